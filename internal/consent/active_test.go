package consent

import (
	"testing"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/internal/store"
)

func TestDecide(t *testing.T) {
	on := func(seq int64) store.ConsentEvent { return store.ConsentEvent{Seq: seq, On: true} }
	off := func(seq int64) store.ConsentEvent { return store.ConsentEvent{Seq: seq} }
	cases := []struct {
		name  string
		c     candor.Category
		state map[candor.Category]store.ConsentEvent
		epoch int64
		kind  candor.Kind
	}{
		{"new account: everything off", candor.Contacts, nil, 0, candor.ConsentRequired},
		{"on", candor.Contacts, map[candor.Category]store.ConsentEvent{candor.Contacts: on(3)}, 3, 0},
		{"turned off", candor.Contacts, map[candor.Category]store.ConsentEvent{candor.Contacts: off(4)}, 0, candor.ConsentRequired},
		{"another category on", candor.Notes, map[candor.Category]store.ConsentEvent{candor.Contacts: on(1)}, 0, candor.ConsentRequired},
		{"unknown category", candor.Category("location"), map[candor.Category]store.ConsentEvent{"location": on(1)}, 0, candor.Invalid},
	}
	for _, tc := range cases {
		epoch, err := Decide(tc.c, tc.state)
		switch {
		case tc.kind == 0 && (err != nil || epoch != tc.epoch):
			t.Errorf("%s: epoch %d, err %v; want epoch %d", tc.name, epoch, err, tc.epoch)
		case tc.kind != 0 && !candor.Is(err, tc.kind):
			t.Errorf("%s: err %v, want %v", tc.name, err, tc.kind)
		}
	}
	// The refusal names the category and says how to turn it on.
	_, err := Decide(candor.SMS, nil)
	var ce *candor.Error
	if e, ok := err.(*candor.Error); ok {
		ce = e
	}
	if ce == nil || ce.Category != candor.SMS || candor.Message(err) != "sms is off for this account: nothing was sent or stored; turn it on with 'consent sms on'" {
		t.Fatalf("refusal: %#v", err)
	}
}
