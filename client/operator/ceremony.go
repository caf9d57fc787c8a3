package operator

import (
	"context"
	"net/http"
	"strings"

	"github.com/candorcloud/candor/api"
)

// The key ceremony: the root key made and split among custodians, the
// server unsealed with their shares and sealed again, region keys rotated,
// and the root key split anew (a rekey).

// Status reports whether the server is initialised and sealed, unseal
// progress and the regions' key versions. It needs no token.
func (c *Client) Status(ctx context.Context) (api.OperatorStatus, error) {
	return call[api.OperatorStatus](ctx, c, http.MethodGet, "/operator/status", nil)
}

// Init holds the key ceremony: n shares, k to unseal, optionally each
// encrypted to one custodian's age public key. The answer's shares and
// bootstrap staff token are shown once; the server keeps neither.
func (c *Client) Init(ctx context.Context, n, k int, custodianKeys []string) (api.InitResponse, error) {
	return call[api.InitResponse](ctx, c, http.MethodPost, "/operator/init", api.InitRequest{Shares: n, Threshold: k, CustodianKeys: custodianKeys})
}

// Unseal offers one share (surrounding space is trimmed).
func (c *Client) Unseal(ctx context.Context, share string) (api.OperatorStatus, error) {
	return call[api.OperatorStatus](ctx, c, http.MethodPost, "/operator/unseal", api.UnsealRequest{Share: strings.TrimSpace(share)})
}

// Seal re-seals the server at once (a staff token is needed).
func (c *Client) Seal(ctx context.Context) (api.OperatorStatus, error) {
	return call[api.OperatorStatus](ctx, c, http.MethodPost, "/operator/seal", nil)
}

// Rotate starts rotating a region's key-encryption key; the server
// re-wraps the region's data keys in the background (see Status).
func (c *Client) Rotate(ctx context.Context, region string) (api.OperatorStatus, error) {
	return call[api.OperatorStatus](ctx, c, http.MethodPost, "/operator/rotate", api.RotateRequest{Region: region})
}

// StartRekey asks for a new root key split into n shares of which k
// unseal; the current custodians then authorise it with RekeyShare.
func (c *Client) StartRekey(ctx context.Context, n, k int, custodianKeys []string) (api.OperatorStatus, error) {
	return call[api.OperatorStatus](ctx, c, http.MethodPost, "/operator/rekey", api.RekeyRequest{Shares: n, Threshold: k, CustodianKeys: custodianKeys})
}

// CancelRekey drops a waiting rekey.
func (c *Client) CancelRekey(ctx context.Context) (api.OperatorStatus, error) {
	return call[api.OperatorStatus](ctx, c, http.MethodDelete, "/operator/rekey", nil)
}

// RekeyShare offers one current share towards the waiting rekey. The
// answer that completes it carries the new shares, shown once.
func (c *Client) RekeyShare(ctx context.Context, share string) (api.RekeyShareResponse, error) {
	return call[api.RekeyShareResponse](ctx, c, http.MethodPost, "/operator/rekey/share", api.UnsealRequest{Share: strings.TrimSpace(share)})
}
