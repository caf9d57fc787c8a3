package client

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
)

// AppPassword is a new app password: what a person types into a program
// that only speaks HTTP Basic, such as a CardDAV client. Password is
// shown once; the server keeps only its hash. ID is the device id that
// RevokeDevice takes.
type AppPassword struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Created    time.Time `json:"created"`
	Username   string    `json:"username"`
	Password   string    `json:"password"`
	CardDAVURL string    `json:"carddav_url"`
}

// Device is one device of the account: a phone, or an app password
// (Kind api.DeviceApp, with its Name).
type Device struct {
	ID      string    `json:"id"`
	Kind    string    `json:"kind,omitempty"`
	Name    string    `json:"name,omitempty"`
	Created time.Time `json:"created"`
	Current bool      `json:"current"`
}

// CreateAppPassword makes an app password named name for the signed-in
// account. It reaches only the CardDAV endpoint, and only contacts; it is
// listed by Devices and revoked by RevokeDevice from any phone of the
// account. The account password is not involved and never leaves the phone.
func (c *Client) CreateAppPassword(ctx context.Context, name string) (AppPassword, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == nil {
		return AppPassword{}, errNotSignedIn
	}
	var out api.AppPassword
	if err := c.call(ctx, http.MethodPost, "/app-passwords", api.AppPasswordRequest{Name: name}, &out); err != nil {
		return AppPassword{}, err
	}
	u, err := url.JoinPath(strings.TrimSuffix(c.dev.Server, "/"), out.CardDAVPath)
	if err != nil {
		return AppPassword{}, candor.Wrap(candor.Internal, "the server's CardDAV path is not a URL path", err)
	}
	if !strings.HasSuffix(u, "/") {
		u += "/"
	}
	return AppPassword{ID: out.ID, Name: out.Name, Created: out.Created, Username: out.Username, Password: out.Password, CardDAVURL: u}, nil
}

// Devices lists the account's devices, phones and app passwords, oldest
// first.
func (c *Client) Devices(ctx context.Context) ([]Device, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == nil {
		return nil, errNotSignedIn
	}
	var out struct {
		Devices []api.Device `json:"devices"`
	}
	if err := c.call(ctx, http.MethodGet, "/devices", nil, &out); err != nil {
		return nil, err
	}
	devs := make([]Device, len(out.Devices))
	for i, d := range out.Devices {
		devs[i] = Device{ID: d.ID, Kind: d.Kind, Name: d.Name, Created: d.Created, Current: d.Current}
	}
	return devs, nil
}

// RevokeDevice ends every session of one device of the account: a phone
// or an app password (whose next use then fails to authenticate). A device
// of another account is candor.NotFound.
func (c *Client) RevokeDevice(ctx context.Context, id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == nil {
		return errNotSignedIn
	}
	if !candor.ValidID(id) {
		return candor.E(candor.NotFound, "no such device on this account")
	}
	return c.call(ctx, http.MethodDelete, "/devices/"+id, nil, nil)
}
