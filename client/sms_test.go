package client

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"html"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/client/internal/smsxml"
	"github.com/candorcloud/candor/internal/server/servertest"
)

// smsFile is an "SMS Backup & Restore" file of n messages, written the way
// the acceptance check's make_sms_xml writes it (Python's html.escape,
// which also escapes ' as &#x27;).
func smsFile(n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n<smses count=\"%d\">\n", n)
	for i := range n {
		body := html.EscapeString(fmt.Sprintf("Saffron-kettle message %d ना भूलें", i))
		fmt.Fprintf(&b, `  <sms protocol="0" address="+9198700%05d" date="%d" type="%d" subject="null" body="%s" toa="null" sc_toa="null" service_center="null" read="1" status="-1" locked="0" date_sent="0" readable_date="" contact_name="(Unknown)" />`+"\n",
			i%40, 1700000000000+int64(i)*60000, 1+i%2, body)
	}
	b.WriteString("</smses>\n")
	return b.String()
}

// smsMixed is a file as the app writes it: a comment and a stylesheet, an
// emoji as a surrogate pair of references, a newline, quotes, unknown
// attributes, and an MMS with a SMIL part, two text parts, an image and
// three addresses.
const smsMixed = `<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>
<!--File Created By SMS Backup & Restore v10.20.002 on 14/11/2023 22:13:20-->
<?xml-stylesheet type="text/xsl" href="sms.xsl"?>
<smses count="3" backup_set="8e8b6a0e-9c1a-4f55-8a53-0a4b1c6a7d11" backup_date="1700000500000" type="full">
  <sms protocol="0" address="+8613912345678" date="1700000100000" type="1" subject="null" body="你好 &#55357;&#56832; नमस्ते &amp; &lt;b&gt; &quot;quoted&quot; it's&#10;second line&#9;tab" toa="null" sc_toa="null" service_center="+8613800100500" read="0" status="-1" locked="1" date_sent="1700000099000" sub_id="1" readable_date="Nov 14, 2023 10:15:00 PM" contact_name="王芳" />
  <mms date="1700000200000" rr="null" sub="null" ct_t="application/vnd.wap.multipart.related" read_status="null" seen="1" msg_box="2" address="+919876543210~+14155550100" sub_cs="null" resp_st="128" retr_st="null" d_tm="null" text_only="0" exp="604800" locked="0" m_id="mavodi-1-89-2-1c-2-5c-1" st="null" retr_txt_cs="null" retr_txt="null" creator="com.google.android.apps.messaging" date_sent="0" read="1" m_size="1234" rpt_a="null" ct_cls="null" pri="129" sub_id="1" tr_id="proto:CAESIDU" resp_txt="null" ct_l="null" m_cls="personal" d_rpt="128" v="18" _id="412" m_type="128" readable_date="Nov 14, 2023 10:16:40 PM" contact_name="Ananya, Sam">
    <parts>
      <part seq="-1" ct="application/smil" name="null" chset="null" cd="null" fn="null" cid="&lt;smil&gt;" cl="smil.xml" ctt_s="null" ctt_t="null" text="&lt;smil&gt;&lt;body&gt;&lt;par dur=&quot;5000ms&quot;&gt;&lt;text src=&quot;text_0.txt&quot;/&gt;&lt;/par&gt;&lt;/body&gt;&lt;/smil&gt;" />
      <part seq="0" ct="text/plain" name="null" chset="106" cd="null" fn="null" cid="&lt;text_0&gt;" cl="text_0.txt" ctt_s="null" ctt_t="null" text="कल मिलते हैं &#55356;&#57225; 🎉" />
      <part seq="0" ct="image/jpeg" name="IMG_1.jpg" chset="null" cd="null" fn="null" cid="&lt;IMG_1&gt;" cl="IMG_1.jpg" ctt_s="null" ctt_t="null" text="null" data="/9j/4AAQSkZJRgABAQAAAQABAAD/2wBD" />
      <part seq="0" ct="text/plain; charset=utf-8" name="null" chset="106" cd="null" fn="null" cid="&lt;text_1&gt;" cl="text_1.txt" ctt_s="null" ctt_t="null" text="second text" />
    </parts>
    <addrs>
      <addr address="+919812345678" type="137" charset="106" />
      <addr address="+919876543210" type="151" charset="106" />
      <addr address="+14155550100" type="151" charset="106" />
    </addrs>
  </mms>
  <sms protocol="0" address="AX-HDFCBK" date="1700000000000" type="1" subject="null" body="Your OTP is 123456" toa="null" sc_toa="null" service_center="null" read="1" status="-1" locked="0" date_sent="0" readable_date="" contact_name="(Unknown)" future_attr="kept" />
</smses>
`

func importSMS(t *testing.T, c *Client, file string) ImportResult {
	t.Helper()
	res, err := c.SMS().ImportWithResult(strings.NewReader(file))
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	return res
}

func listSMS(t *testing.T, c interface{ SMS() *SMSBox }) []Message {
	t.Helper()
	ms, err := c.SMS().List()
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func exportSMS(t *testing.T, c interface{ SMS() *SMSBox }) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := c.SMS().Export(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// withoutIDs returns ms with the record ids cleared, for comparing the
// messages of two phones that imported them separately.
func withoutIDs(ms []Message) []Message {
	out := make([]Message, len(ms))
	for i, m := range ms {
		m.ID = ""
		out[i] = m
	}
	return out
}

// strictXML checks that b is well-formed XML for a strict decoder and
// returns the number of elements named name.
func strictXML(t *testing.T, b []byte, name string) int {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	n := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return n
		}
		if err != nil {
			t.Fatalf("the exported file is not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == name {
			n++
		}
	}
}

func TestSMSImport500(t *testing.T) {
	a := newLocalPhone(t)
	file := smsFile(500)
	if res := importSMS(t, a, file); res != (ImportResult{Added: 500}) {
		t.Fatalf("import = %+v, want 500 added", res)
	}
	ms := listSMS(t, a)
	if len(ms) != 500 {
		t.Fatalf("%d messages, want 500", len(ms))
	}
	for i, m := range ms {
		want := Message{
			ID: m.ID, Kind: KindSMS, Address: fmt.Sprintf("+9198700%05d", i%40), Date: 1700000000000 + int64(i)*60000,
			Type: 1 + i%2, Direction: []string{"received", "sent"}[i%2], Read: true,
			Body: fmt.Sprintf("Saffron-kettle message %d ना भूलें", i), ContactName: "(Unknown)", Attrs: m.Attrs,
		}
		if !reflect.DeepEqual(m, want) {
			t.Fatalf("message %d =\n%+v\nwant\n%+v", i, m, want)
		}
		if !candor.ValidID(m.ID) || !strings.HasPrefix(m.ID, "rec_") {
			t.Fatalf("message %d has id %q", i, m.ID)
		}
	}
	names := []string{"protocol", "address", "date", "type", "subject", "body", "toa", "sc_toa", "service_center", "read", "status", "locked", "date_sent", "readable_date", "contact_name"}
	for i, at := range ms[7].Attrs {
		if at.Name != names[i] {
			t.Fatalf("attribute %d is %q, want %q (file order)", i, at.Name, names[i])
		}
	}

	// Importing the same file again adds nothing.
	if res := importSMS(t, a, file); res != (ImportResult{Duplicates: 500}) {
		t.Fatalf("second import = %+v, want 500 duplicates", res)
	}
	if n := len(listSMS(t, a)); n != 500 {
		t.Fatalf("%d messages after the second import", n)
	}

	// Export, and import the export on a fresh phone: the same messages.
	out := exportSMS(t, a)
	if n := strictXML(t, out, "sms"); n != 500 {
		t.Fatalf("the export holds %d <sms>, want 500", n)
	}
	if !bytes.HasPrefix(out, []byte("<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n<smses count=\"500\">\n")) {
		t.Errorf("the export starts %q", out[:100])
	}
	line := `  <sms protocol="0" address="+919870000003" date="1700000180000" type="2" subject="null" body="Saffron-kettle message 3 ना भूलें" toa="null" sc_toa="null" service_center="null" read="1" status="-1" locked="0" date_sent="0" readable_date="" contact_name="(Unknown)" />` + "\n"
	if !bytes.Contains(out, []byte(line)) {
		t.Errorf("the export lacks the line\n%s", line)
	}
	b := newLocalPhone(t)
	if n, err := b.SMS().Import(bytes.NewReader(out)); err != nil || n != 500 {
		t.Fatalf("import of the export: %d, %v", n, err)
	}
	if !reflect.DeepEqual(withoutIDs(listSMS(t, b)), withoutIDs(ms)) {
		t.Fatal("the messages differ after export and import")
	}
	if out2 := exportSMS(t, b); !bytes.Equal(out2, out) {
		t.Fatal("the second export differs from the first")
	}
}

func TestSMSMixedRoundTrip(t *testing.T) {
	a := newLocalPhone(t)
	if res := importSMS(t, a, smsMixed); res != (ImportResult{Added: 3}) {
		t.Fatalf("import = %+v", res)
	}
	ms := listSMS(t, a)
	if len(ms) != 3 {
		t.Fatalf("%d messages", len(ms))
	}
	// Sorted by date: the OTP, the SMS with an emoji, the MMS.
	otp, sms, mms := ms[0], ms[1], ms[2]
	if otp.Address != "AX-HDFCBK" || otp.Body != "Your OTP is 123456" {
		t.Errorf("first message = %+v", otp)
	}
	if v, ok := otp.Attr("future_attr"); !ok || v != "kept" {
		t.Errorf("unknown attribute = %q, %v", v, ok)
	}
	wantBody := "你好 \U0001F600 नमस्ते & <b> \"quoted\" it's\nsecond line\ttab"
	if sms.Body != wantBody || !bytes.Equal([]byte(sms.Body), []byte(wantBody)) {
		t.Errorf("body = %q, want %q", sms.Body, wantBody)
	}
	if sms.Read || sms.Direction != "received" || sms.ContactName != "王芳" || sms.DateSent != 1700000099000 || sms.Subject != "" {
		t.Errorf("sms = %+v", sms)
	}
	if v, _ := sms.Attr("locked"); v != "1" {
		t.Errorf("locked = %q", v)
	}
	if mms.Kind != KindMMS || mms.Type != 2 || mms.Direction != "sent" || !mms.Read || mms.Address != "+919876543210~+14155550100" {
		t.Errorf("mms = %+v", mms)
	}
	if want := "कल मिलते हैं \U0001F389 🎉\nsecond text"; mms.Body != want {
		t.Errorf("mms body = %q, want %q", mms.Body, want)
	}
	if len(mms.Parts) != 4 || mms.Parts[0].ContentType != "application/smil" || mms.Parts[2].ContentType != "image/jpeg" || mms.Parts[2].Text != "" {
		t.Errorf("parts = %+v", mms.Parts)
	}
	if v, _ := smsxml.Value(mms.Parts[2].Attrs, "data"); v != "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBD" {
		t.Errorf("image data = %q", v)
	}
	wantAddrs := []Addr{{"+919812345678", 137, nil}, {"+919876543210", 151, nil}, {"+14155550100", 151, nil}}
	gotAddrs := slices.Clone(mms.Addrs)
	for i := range gotAddrs {
		gotAddrs[i].Attrs = nil
	}
	if !reflect.DeepEqual(gotAddrs, wantAddrs) {
		t.Errorf("addrs = %+v", mms.Addrs)
	}
	if v, _ := mms.Attr("m_type"); v != "128" {
		t.Errorf("m_type = %q", v)
	}

	out := exportSMS(t, a)
	if strictXML(t, out, "sms") != 2 || strictXML(t, out, "mms") != 1 || strictXML(t, out, "part") != 4 || strictXML(t, out, "addr") != 3 {
		t.Fatalf("the export has the wrong elements:\n%s", out)
	}
	for _, want := range []string{
		`body="你好 😀 नमस्ते &amp; &lt;b&gt; &quot;quoted&quot; it's&#10;second line&#9;tab"`,
		`text="कल मिलते हैं 🎉 🎉"`,
		`<part seq="-1" ct="application/smil" name="null" chset="null" cd="null" fn="null" cid="&lt;smil&gt;" cl="smil.xml"`,
		`<addr address="+14155550100" type="151" charset="106" />`,
		`contact_name="(Unknown)" future_attr="kept" />`,
		"<smses count=\"3\">\n",
	} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("the export lacks %s\n%s", want, out)
		}
	}
	b := newLocalPhone(t)
	importSMS(t, b, string(out))
	if !reflect.DeepEqual(withoutIDs(listSMS(t, b)), withoutIDs(ms)) {
		t.Fatalf("messages differ after a round trip:\n%+v\n%+v", listSMS(t, b), ms)
	}
	// Nothing new on a second import, even of the exported form.
	if res := importSMS(t, a, string(out)); res.Added != 0 || res.Duplicates != 3 {
		t.Errorf("re-import of the export = %+v", res)
	}
}

// Character references that XML cannot hold are read as U+FFFD; nothing
// else changes.
func TestSMSInvalidReferences(t *testing.T) {
	c := newLocalPhone(t)
	file := `<smses count="1"><sms address="x" date="1" type="1" body="a&#55357;b&#56832;c&#1;d&#xD83D;&#xDE00;e&#55357;&#55357;&#56832;f&#xfffe;" /></smses>`
	importSMS(t, c, file)
	if got, want := listSMS(t, c)[0].Body, "a\uFFFDb\uFFFDc\uFFFDd\U0001F600e\uFFFD\U0001F600f\uFFFD"; got != want {
		t.Errorf("body = %q, want %q", got, want)
	}
}

func TestSMSMalformed(t *testing.T) {
	good := `<sms address="+911" date="1700000000000" type="1" body="Saffron-kettle ok" />`
	head := "<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n<smses count=\"3\">\n  " + good + "\n"
	for _, tc := range []struct {
		name, file string
		kind       candor.Kind
		want       string
	}{
		{"empty", "", candor.Invalid, "no <smses>"},
		{"not xml", "Saffron-kettle hello", candor.Invalid, "line 1"},
		{"other root", "<?xml version='1.0'?>\n<calls>\n</calls>\n", candor.Invalid, "line 2"},
		{"unclosed", head + `  <sms address="+911" date="1" body="Saffron-kettle` + "\n</smses>\n", candor.Invalid, "line 4 of the SMS file"},
		{"bad entity", head + "  " + `<sms address="x" date="2" body="Saffron-kettle &nbsp; x" />` + "\n</smses>\n", candor.Invalid, "line 4 of the SMS file: an & that"},
		{"raw ampersand", head + "\n\n  " + `<sms address="x" date="2" body="Saffron-kettle & co" />` + "\n</smses>\n", candor.Invalid, "line 6"},
		{"mismatched", head + "  <mms date=\"5\">\n  <parts>\n  </addrs>\n</smses>\n", candor.Invalid, "line 6 of the SMS file: </addrs> does not close"},
		{"truncated", head + "  " + good + "\n", candor.Invalid, "ends before </smses>"},
		{"text", head + "  Saffron-kettle stray text\n</smses>\n", candor.Invalid, "line 4 of the SMS file: unexpected text"},
		{"unknown element", head + "  <call number=\"1\" />\n</smses>\n", candor.Invalid, "line 4 of the SMS file: unexpected element <call> in <smses>"},
		{"child of sms", head + "  <sms date=\"3\"><body>Saffron-kettle</body></sms>\n</smses>\n", candor.Invalid, "line 4 of the SMS file: unexpected element <body> in <sms>"},
		{"after root", head + "</smses>\n<smses>\n</smses>\n", candor.Invalid, "line 5 of the SMS file: an element after </smses>"},
		{"no date", head + "  " + `<sms address="x" body="Saffron-kettle" />` + "\n</smses>\n", candor.Invalid, "line 4 of the SMS file: the message has no valid date"},
		{"bad date", head + "  " + `<sms address="x" date="yesterday" body="Saffron-kettle" />` + "\n</smses>\n", candor.Invalid, "line 4 of the SMS file: the message has no valid date"},
		{"duplicate attribute", head + "  " + `<sms date="4" body="Saffron-kettle" body="again" />` + "\n</smses>\n", candor.Invalid, "line 4 of the SMS file: attribute body appears twice"},
		{"latin-1", "<?xml version='1.0' encoding='ISO-8859-1'?>\n<smses></smses>", candor.Invalid, "must be UTF-8"},
		{"bad utf-8", head + "  " + "<sms date=\"4\" body=\"Saffron-kettle \xff\" />" + "\n</smses>\n", candor.Invalid, "line 4 of the SMS file: invalid UTF-8"},
		{"raw control", head + "  " + "<sms date=\"4\" body=\"Saffron-kettle \x01\" />" + "\n</smses>\n", candor.Invalid, "line 4 of the SMS file: illegal character code U+0001"},
		{"huge body", head + "  " + `<sms date="4" body="` + strings.Repeat("Saffron-kettle ", MaxSMSText/15+1) + `" />` + "\n</smses>\n", candor.TooLarge, "line 4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newLocalPhone(t)
			n, err := c.SMS().Import(strings.NewReader(tc.file))
			var ce *candor.Error
			if !errorsAs(err, &ce) || ce.Kind != tc.kind || !strings.Contains(ce.Message, tc.want) {
				t.Fatalf("import: %d, %v; want %v containing %q", n, err, tc.kind, tc.want)
			}
			if strings.Contains(err.Error(), "Saffron") {
				t.Errorf("the error shows the file's text: %v", err)
			}
			if n != 0 || len(listSMS(t, c)) != 0 {
				t.Errorf("a failed import stored %d messages", len(listSMS(t, c)))
			}
		})
	}
}

func TestSMSMediaTooLarge(t *testing.T) {
	c := newLocalPhone(t)
	big := strings.Repeat("QUJD", api.MaxRecordBytes/4+1)
	file := `<smses count="2">
  <mms date="1700000000000" msg_box="1" address="+911"><parts>
    <part seq="0" ct="image/jpeg" cl="a.jpg" data="` + big + `" />
    <part seq="0" ct="text/plain" text="caption" />
  </parts><addrs><addr address="+911" type="137" /></addrs></mms>
  <mms date="1700000001000" msg_box="1" address="+911"><parts><part seq="0" ct="image/png" data="iVBORw0KGgo=" /></parts></mms>
</smses>`
	res := importSMS(t, c, file)
	if res != (ImportResult{Added: 2, MediaDropped: 1}) {
		t.Fatalf("import = %+v", res)
	}
	ms := listSMS(t, c)
	if ms[0].Body != "caption" || len(ms[0].Parts) != 2 || ms[0].Parts[0].ContentType != "image/jpeg" {
		t.Errorf("message = %+v", ms[0])
	}
	if _, ok := smsxml.Value(ms[0].Parts[0].Attrs, "data"); ok {
		t.Error("the media too large was kept")
	}
	if v, _ := smsxml.Value(ms[1].Parts[0].Attrs, "data"); v != "iVBORw0KGgo=" {
		t.Errorf("small media = %q", v)
	}
	// The same file again: nothing new (media data does not count).
	if res := importSMS(t, c, file); res.Added != 0 || res.Duplicates != 2 {
		t.Errorf("re-import = %+v", res)
	}
}

func TestSMSAdd(t *testing.T) {
	c := newLocalPhone(t)
	m, err := c.SMS().Add(Message{Address: "+919812345678", Date: 1700000000000, Type: 2, Read: true, Body: "नमस्ते 👋 <&>"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Kind != KindSMS || m.Direction != "sent" || m.Body != "नमस्ते 👋 <&>" || m.ContactName != "(Unknown)" || !candor.ValidID(m.ID) {
		t.Errorf("added %+v", m)
	}
	if _, err := c.SMS().Add(Message{Address: "+919812345678", Date: 1700000000000, Type: 2, Body: "नमस्ते 👋 <&>"}); !candor.Is(err, candor.Conflict) {
		t.Errorf("adding the same message again: %v", err)
	}
	for _, bad := range []Message{{Body: "no address"}, {Address: "x", Type: 9}, {Address: "x", Kind: KindMMS}, {Address: "x", Body: "\xff"}} {
		if _, err := c.SMS().Add(bad); !candor.Is(err, candor.Invalid) {
			t.Errorf("Add(%+v): %v", bad, err)
		}
	}
	got, err := c.SMS().Get(m.ID)
	if err != nil || !reflect.DeepEqual(got, m) {
		t.Errorf("Get = %+v, %v", got, err)
	}
	out := exportSMS(t, c)
	if !bytes.Contains(out, []byte(`body="नमस्ते 👋 &lt;&amp;&gt;"`)) {
		t.Errorf("export:\n%s", out)
	}
	if res := importSMS(t, c, string(out)); res.Duplicates != 1 {
		t.Errorf("re-import = %+v", res)
	}
	if err := c.SMS().Delete(m.ID); err != nil || len(listSMS(t, c)) != 0 {
		t.Errorf("delete: %v", err)
	}
}

// Two phones against a real server: A's messages reach B only once sms is
// on, and B's export holds exactly A's messages.
func TestSMSSyncTwoPhones(t *testing.T) {
	env := servertest.Start(t)
	a := newPhone(t, env, canaryIMEI)
	file := smsFile(500)
	must[int](t)(a.SMS().Import(strings.NewReader(file)))
	must[int](t)(a.SMS().Import(strings.NewReader(smsMixed)))
	must[Session](t)(a.Signup(t.Context(), canaryEmail, canaryPassword))
	a.consent(t, candor.Notes, true)

	// sms is off: syncing sends nothing of it.
	a.sync(t)
	if _, err := a.Sync(t.Context(), nil, candor.SMS); !candor.Is(err, candor.ConsentRequired) {
		t.Errorf("sync of sms while off: %v", err)
	}
	for _, r := range a.rec.requests() {
		if strings.Contains(r.Path, "/records/sms") {
			t.Errorf("a request about sms while it is off: %s %s", r.Method, r.Path)
		}
	}
	a.rec.assertNeverSent(t, "Saffron-kettle", "+9198700", "नमस्ते")

	a.consent(t, candor.SMS, true)
	res := a.sync(t, candor.SMS)
	if len(res) != 1 || res[0].Pushed != 503 {
		t.Fatalf("A's sync = %+v", res)
	}
	want := listSMS(t, a)

	b := newPhone(t, env, "356938035643817")
	must[Session](t)(b.Login(t.Context(), canaryEmail, canaryPassword))
	res = b.sync(t)
	if len(res) != 2 || res[1].Category != candor.SMS || res[1].Pulled != 503 {
		t.Fatalf("B's sync = %+v", res)
	}
	if got := listSMS(t, b); !reflect.DeepEqual(got, want) {
		t.Fatal("B's messages differ from A's")
	}
	outA, outB := exportSMS(t, a), exportSMS(t, b)
	if !bytes.Equal(outA, outB) {
		t.Fatal("B's export differs from A's")
	}
	c := newLocalPhone(t)
	must[int](t)(c.SMS().Import(bytes.NewReader(outB)))
	if !reflect.DeepEqual(withoutIDs(listSMS(t, c)), withoutIDs(want)) {
		t.Fatal("B's export, imported again, differs from A's messages")
	}
	scanFolder(t, env.Data, "Saffron-kettle", "ना भूलें", "+919870000012")

	// Turned off again: new messages stay on the phone.
	a.consent(t, candor.SMS, false)
	a.rec.reset()
	must[Message](t)(a.SMS().Add(Message{Address: "+919812345670", Body: "Saffron-kettle after off"}))
	a.sync(t)
	for _, r := range a.rec.requests() {
		if strings.Contains(r.Path, "/records/sms") {
			t.Errorf("a request about sms after it was turned off: %s %s", r.Method, r.Path)
		}
	}
	a.rec.assertNeverSent(t, "Saffron-kettle")
}
