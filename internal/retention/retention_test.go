package retention

import (
	"encoding/json"
	"testing"
	"time"
)

func TestDuration(t *testing.T) {
	var r Rules
	if err := json.Unmarshal([]byte(`{"deleted_items":"30d","undelivered_messages":"12h"}`), &r); err != nil {
		t.Fatal(err)
	}
	r = r.WithDefaults()
	if time.Duration(r.DeletedItems) != 30*24*time.Hour || time.Duration(r.UndeliveredMessages) != 12*time.Hour ||
		time.Duration(r.AbandonedUploads) != 24*time.Hour {
		t.Fatalf("%+v", r)
	}
	b, _ := json.Marshal(r)
	if string(b) != `{"deleted_items":"30d","undelivered_messages":"12h","abandoned_uploads":"1d"}` {
		t.Fatalf("%s", b)
	}
	for _, bad := range []string{`"-1d"`, `"0s"`, `"soon"`, `"1.5d"`} {
		var d Duration
		if json.Unmarshal([]byte(bad), &d) == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
