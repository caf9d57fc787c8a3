package bus

import (
	"strings"
	"testing"

	"github.com/candorcloud/candor"
)

func TestCheckSubject(t *testing.T) {
	for _, s := range []string{"a", "a.b", "0", "a-b_c.d-9", "messaging.device.dev_abcdefghijklmnopqrstuvwxyz", strings.Repeat("a", MaxSubject)} {
		if err := CheckSubject(s); err != nil {
			t.Errorf("CheckSubject(%q): %v", s, err)
		}
	}
	for _, s := range []string{"", ".", "a.", ".a", "a..b", "A", "a b", "a/b", "a.*", "a.>", "$sys", "é", "a\n", strings.Repeat("a", MaxSubject+1)} {
		if err := CheckSubject(s); !candor.Is(err, candor.Invalid) {
			t.Errorf("CheckSubject(%q): %v, want Invalid", s, err)
		}
	}
}

func TestCheckData(t *testing.T) {
	if err := CheckData(make([]byte, MaxData)); err != nil {
		t.Errorf("CheckData(MaxData bytes): %v", err)
	}
	if err := CheckData(make([]byte, MaxData+1)); !candor.Is(err, candor.TooLarge) {
		t.Errorf("CheckData(MaxData+1 bytes): %v, want TooLarge", err)
	}
}
