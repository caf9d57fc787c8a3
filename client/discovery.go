package client

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"slices"
	"time"

	"github.com/cloudflare/circl/oprf"
	"github.com/nyaruka/phonenumbers"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/client/internal/envelope"
)

// Private discovery: which numbers are on Candor messaging, learnt without
// the server seeing a number that is not, and the keys of those that are,
// with notice of any change (see the overview in messaging.go).

// knownRecipient is what the phone knows of a number: its discovery token,
// whether it was registered when last looked up, and the account and
// device keys it last saw (kept after the number leaves, so that keys it
// comes back with are noticed as new).
type knownRecipient struct {
	Token      []byte           `json:"token,omitempty"`
	Evaluated  time.Time        `json:"evaluated,omitzero"`
	Registered bool             `json:"registered,omitempty"`
	Account    string           `json:"account,omitempty"`
	Devices    []api.DeviceKeys `json:"devices,omitempty"`
	Checked    time.Time        `json:"checked,omitzero"`
}

func (r *knownRecipient) device(id string) *api.DeviceKeys {
	for i := range r.Devices {
		if r.Devices[i].Device == id {
			return &r.Devices[i]
		}
	}
	return nil
}

// discoveryInput is what a number's token is computed from.
func discoveryInput(number string) []byte { return []byte(discoveryDomain + number) }

// discoveryRun is one OPRF run over several numbers.
type discoveryRun struct {
	client oprf.Client
	fin    *oprf.FinalizeData
	n      int
}

// blindNumbers blinds numbers for evaluation by the server.
func blindNumbers(numbers []string) (*discoveryRun, [][]byte, error) {
	in := make([][]byte, len(numbers))
	for i, n := range numbers {
		in[i] = discoveryInput(n)
	}
	cl := oprf.NewClient(oprf.SuiteRistretto255)
	fin, req, err := cl.Blind(in)
	if err != nil {
		return nil, nil, candor.Wrap(candor.Internal, "cannot blind the numbers", err)
	}
	out := make([][]byte, len(req.Elements))
	for i, e := range req.Elements {
		if out[i], err = e.MarshalBinaryCompress(); err != nil {
			return nil, nil, candor.Wrap(candor.Internal, "cannot encode a blinded number", err)
		}
	}
	return &discoveryRun{client: cl, fin: fin, n: len(numbers)}, out, nil
}

// finish unblinds the server's evaluations into tokens, in order.
func (d *discoveryRun) finish(evaluated [][]byte) ([][]byte, error) {
	if len(evaluated) != d.n {
		return nil, candor.E(candor.Invalid, "the server evaluated a different number of discovery elements than asked")
	}
	ev := &oprf.Evaluation{Elements: make([]oprf.Evaluated, len(evaluated))}
	for i, b := range evaluated {
		e := oprf.SuiteRistretto255.Group().NewElement()
		if err := e.UnmarshalBinary(b); err != nil {
			return nil, candor.Wrap(candor.Invalid, "the server's discovery evaluation is malformed", err)
		}
		ev.Elements[i] = e
	}
	out, err := d.client.Finalize(d.fin, ev)
	if err != nil {
		return nil, candor.Wrap(candor.Invalid, "the server's discovery evaluation is invalid", err)
	}
	for _, t := range out {
		if len(t) != TokenBytes {
			return nil, candor.Errorf(candor.Internal, "unexpected discovery token length %d", len(t))
		}
	}
	return out, nil
}

// tokens returns the discovery tokens of numbers, evaluating (blindly)
// those not cached or cached too long ago.
func (c *Client) tokens(ctx context.Context, st *messagesState, numbers []string, fresh bool) (map[string][]byte, error) {
	now := c.opts.now()
	out := make(map[string][]byte, len(numbers))
	var need []string
	for _, n := range numbers {
		if r := st.Recipients[n]; r != nil && len(r.Token) == TokenBytes && !fresh && now.Sub(r.Evaluated) < tokenMaxAge {
			out[n] = r.Token
		} else if !slices.Contains(need, n) {
			need = append(need, n)
		}
	}
	for len(need) > 0 {
		batch := need[:min(evaluateBatch, len(need))]
		need = need[len(batch):]
		run, blinded, err := blindNumbers(batch)
		if err != nil {
			return nil, err
		}
		var ev api.Evaluated
		if err := c.call(ctx, http.MethodPost, "/messaging/discovery/evaluate", api.Blinded{Elements: blinded}, &ev); err != nil {
			return nil, err
		}
		toks, err := run.finish(ev.Elements)
		if err != nil {
			return nil, err
		}
		for i, n := range batch {
			r := st.Recipients[n]
			if r == nil {
				r = &knownRecipient{}
				st.Recipients[n] = r
			}
			if r.Token != nil && !bytes.Equal(r.Token, toks[i]) {
				// The server's discovery key changed: what was found
				// under the old token says nothing now.
				r.Account, r.Devices, r.Registered = "", nil, false
			}
			r.Token, r.Evaluated = toks[i], now.UTC()
			out[n] = toks[i]
		}
	}
	return out, nil
}

// registeredTokens asks for the registered tokens in the buckets of toks and
// returns those of toks found among them. Only 2-byte prefixes are sent.
func (c *Client) registeredTokens(ctx context.Context, toks [][]byte) ([][]byte, error) {
	var prefixes [][]byte
	seen := map[string]bool{}
	for _, t := range toks {
		p := t[:PrefixBytes]
		if !seen[string(p)] {
			seen[string(p)] = true
			prefixes = append(prefixes, p)
		}
	}
	have := map[string]bool{}
	for len(prefixes) > 0 {
		batch := prefixes[:min(matchBatch, len(prefixes))]
		prefixes = prefixes[len(batch):]
		var reg api.Registered
		if err := c.call(ctx, http.MethodPost, "/messaging/discovery/match", api.Buckets{Prefixes: batch}, &reg); err != nil {
			return nil, err
		}
		for _, t := range reg.Tokens {
			have[string(t)] = true
		}
	}
	var out [][]byte
	for _, t := range toks {
		if have[string(t)] {
			out = append(out, t)
		}
	}
	return out, nil
}

// fetchRecipient gets a registered token's account and device keys, checks
// them, updates the phone's record of the number and reports a change of
// keys. ok is false if the token is not registered.
func (c *Client) fetchRecipient(ctx context.Context, st *messagesState, number string) (r *knownRecipient, change *KeyChange, ok bool, err error) {
	r = st.Recipients[number]
	var rcp api.Recipient
	err = c.call(ctx, http.MethodGet, "/messaging/recipients/"+base64.RawURLEncoding.EncodeToString(r.Token), nil, &rcp)
	if candor.Is(err, candor.NotFound) {
		r.Registered = false // the keys seen last are kept, to notice new ones
		return r, nil, false, nil
	}
	if err != nil {
		return nil, nil, false, err
	}
	if !candor.ValidID(rcp.Account) {
		return nil, nil, false, candor.E(candor.Invalid, "the server's recipient answer names no valid account")
	}
	var devs []api.DeviceKeys
	for _, d := range rcp.Devices {
		if checkDeviceKeys(d) == nil {
			devs = append(devs, d)
		}
	}
	if len(devs) == 0 {
		return nil, nil, false, candor.E(candor.Invalid, "the server's recipient answer has no usable device keys")
	}
	change = keyChange(number, r, rcp.Account, devs)
	r.Account, r.Devices, r.Registered, r.Checked = rcp.Account, devs, true, c.opts.now().UTC()
	return r, change, true, nil
}

// checkDeviceKeys checks that published keys are well-formed.
func checkDeviceKeys(d api.DeviceKeys) error {
	if !candor.ValidID(d.Device) {
		return candor.E(candor.Invalid, "a device id is malformed")
	}
	return envelope.CheckPublicKeys(d.HPKE, d.Sign)
}

// keyChange compares newly fetched keys with what the phone saw before;
// nil if nothing changed or nothing was seen before.
func keyChange(number string, before *knownRecipient, account string, devs []api.DeviceKeys) *KeyChange {
	if before == nil || before.Account == "" || len(before.Devices) == 0 {
		return nil
	}
	k := &KeyChange{Number: number, Account: candor.AccountID(account), AccountChanged: before.Account != account}
	for _, d := range devs {
		old := before.device(d.Device)
		switch {
		case old == nil:
			k.Added = append(k.Added, candor.DeviceID(d.Device))
		case !bytes.Equal(old.HPKE, d.HPKE) || !bytes.Equal(old.Sign, d.Sign):
			k.Changed = append(k.Changed, candor.DeviceID(d.Device))
		}
	}
	for _, o := range before.Devices {
		if !slices.ContainsFunc(devs, func(d api.DeviceKeys) bool { return d.Device == o.Device }) {
			k.Removed = append(k.Removed, candor.DeviceID(o.Device))
		}
	}
	if !k.AccountChanged && len(k.Added)+len(k.Changed)+len(k.Removed) == 0 {
		return nil
	}
	return k
}

// lookup finds whether number is on Candor messaging and, if so, its
// current keys. A cached registered token is fetched directly (the server
// knows registered tokens already); any other is first matched by bucket,
// so that the full token of a number not on the service is never sent.
func (c *Client) lookup(ctx context.Context, st *messagesState, number string) (*knownRecipient, *KeyChange, bool, error) {
	if r := st.Recipients[number]; r != nil && r.Registered && len(r.Token) == TokenBytes && c.opts.now().Sub(r.Evaluated) < tokenMaxAge {
		r, ch, ok, err := c.fetchRecipient(ctx, st, number)
		if err != nil || ok {
			return r, ch, ok, err
		}
	}
	toks, err := c.tokens(ctx, st, []string{number}, false)
	if err != nil {
		return nil, nil, false, err
	}
	reg, err := c.registeredTokens(ctx, [][]byte{toks[number]})
	if err != nil {
		return nil, nil, false, err
	}
	if len(reg) == 1 {
		return c.fetchRecipient(ctx, st, number)
	}
	st.Recipients[number].Registered = false
	return st.Recipients[number], nil, false, nil
}

// DiscoverContacts finds which of the phone's contacts are on Candor
// messaging, privately (see the package documentation of messaging): their
// numbers are blinded, only 2-byte buckets are matched, and only the tokens
// of numbers found registered are sent in full. It needs messaging on.
func (c *Client) DiscoverContacts(ctx context.Context) (DiscoveryResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.messagingReady(ctx); err != nil {
		return DiscoveryResult{}, err
	}
	cts, err := c.contactList()
	if err != nil {
		return DiscoveryResult{}, err
	}
	numbers, names := contactNumbers(cts, c.numberRegion())
	res := DiscoveryResult{Checked: len(numbers), Found: []Discovered{}}
	if len(numbers) == 0 {
		return res, nil
	}
	st, err := c.loadMessages()
	if err != nil {
		return res, err
	}
	reg, err := c.registeredNumbers(ctx, st, numbers)
	if err != nil {
		return res, err
	}
	for _, n := range reg {
		r, ch, ok, err := c.fetchRecipient(ctx, st, n)
		if err != nil {
			c.saveMessages(st)
			return res, err
		}
		if ch != nil {
			res.KeyChanges = append(res.KeyChanges, *ch)
		}
		if ok {
			res.Found = append(res.Found, Discovered{Name: names[n], Number: n, Account: candor.AccountID(r.Account), Devices: len(r.Devices)})
		}
	}
	return res, c.saveMessages(st)
}

// contactNumbers returns the distinct numbers of contacts in E.164 form,
// in order, and the name of the first contact with each. Numbers are read
// as people write them (see normalizeNumber), national ones as numbers of
// region; those that cannot be a phone number are skipped.
func contactNumbers(cts []Contact, region string) ([]string, map[string]string) {
	names := map[string]string{}
	var numbers []string
	for _, ct := range cts {
		for _, p := range ct.Phones {
			n, ok := normalizeNumber(p, region)
			if _, dup := names[n]; ok && !dup {
				numbers = append(numbers, n)
				names[n] = ct.Name
			}
		}
	}
	return numbers, names
}

// normalizeNumber reads a phone number as people write it — with spaces,
// dashes, dots or parentheses, a "tel:" prefix, an extension, letters
// (1-800-FLOWERS), an international prefix such as 00, or in national form
// with a trunk prefix such as 0 — by libphonenumber's rules and metadata,
// and returns it in E.164 form. A number without a country calling code
// is a number of region (ISO 3166-1 alpha-2). ok is false if number is not
// a possible phone number: unreadable, an unknown country code, or a length
// that no number of its country has. Whether the number's range is
// assigned is not asked, because that metadata lags behind the numbers
// people hold; an unassigned number is simply never found in discovery.
// An extension is dropped.
func normalizeNumber(number, region string) (e164 string, ok bool) {
	n, err := phonenumbers.Parse(number, region)
	if err != nil || !phonenumbers.IsPossibleNumber(n) {
		return "", false
	}
	e164 = phonenumbers.Format(n, phonenumbers.E164)
	if !phonePattern.MatchString(e164) {
		return "", false
	}
	return e164, true
}

// numberRegion is the region the phone reads national numbers in: the
// country of its own number, as its owner dials from it, or, if the number
// does not tell (a non-geographic or unassigned code), the country it was
// set up with.
func (c *Client) numberRegion() string {
	if n, err := phonenumbers.Parse(c.dev.Phone, ""); err == nil {
		if r := phonenumbers.GetRegionCodeForNumber(n); countryPattern.MatchString(r) && r != "ZZ" {
			return r
		}
	}
	return c.dev.Country
}

// registeredNumbers returns those of numbers whose tokens are registered,
// in order, and marks the others not registered.
func (c *Client) registeredNumbers(ctx context.Context, st *messagesState, numbers []string) ([]string, error) {
	toks, err := c.tokens(ctx, st, numbers, false)
	if err != nil {
		return nil, err
	}
	all := make([][]byte, 0, len(numbers))
	for _, n := range numbers {
		all = append(all, toks[n])
	}
	reg, err := c.registeredTokens(ctx, all)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range numbers {
		if slices.ContainsFunc(reg, func(t []byte) bool { return bytes.Equal(t, toks[n]) }) {
			out = append(out, n)
		} else {
			st.Recipients[n].Registered = false
		}
	}
	return out, nil
}
