package smsxml

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/candorcloud/candor"
)

// appFile is testdata/app.xml: a file as the app writes it, with a comment
// and a stylesheet, Chinese and Hindi text, emoji as surrogate-pair
// references and as UTF-8, escaped markup, line breaks and tabs, an MMS
// with a SMIL part, a text part, an image and two addresses, references
// XML cannot hold, and an attribute the app does not write (yet).
func appFile(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/app.xml")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// appMessages is what appFile decodes to.
var appMessages = []Decoded{
	{Line: 5, Message: Message{Kind: KindSMS, Attrs: []Attr{
		{"protocol", "0"}, {"address", "+8613912345678"}, {"date", "1700000100000"}, {"type", "1"}, {"subject", "null"},
		{"body", "你好 \U0001F600 नमस्ते & <b> \"quoted\" it's\nsecond line\ttab"},
		{"read", "0"}, {"contact_name", "王芳"},
	}}},
	{Line: 6, Message: Message{Kind: KindMMS,
		Attrs: []Attr{
			{"date", "1700000200000"}, {"msg_box", "2"}, {"address", "+919876543210~+14155550100"},
			{"ct_t", "application/vnd.wap.multipart.related"}, {"sub", "null"}, {"contact_name", "Ananya, Sam"},
		},
		Parts: [][]Attr{
			{{"seq", "-1"}, {"ct", "application/smil"}, {"cid", "<smil>"}, {"text", "<smil><body/></smil>"}},
			{{"seq", "0"}, {"ct", "text/plain; charset=utf-8"}, {"text", "कल मिलते हैं \U0001F389 🎉"}},
			{{"seq", "0"}, {"ct", "image/jpeg"}, {"cl", "IMG_1.jpg"}, {"data", "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBD"}},
		},
		Addrs: [][]Attr{
			{{"address", "+919812345678"}, {"type", "137"}, {"charset", "106"}},
			{{"address", "+14155550100"}, {"type", "151"}, {"charset", "106"}},
		},
	}},
	{Line: 17, Message: Message{Kind: KindSMS, Attrs: []Attr{
		{"address", "AX-HDFCBK"}, {"date", "1700000000000"}, {"type", "1"},
		{"body", "a\uFFFDb\uFFFDc\U0001F600d\r"}, {"future_attr", "kept"},
	}}},
}

func TestDecodeKnownAnswer(t *testing.T) {
	got, err := Decode(bytes.NewReader(appFile(t)))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, appMessages) {
		t.Fatalf("decoded\n%#v\nwant\n%#v", got, appMessages)
	}
}

func TestEncodeKnownAnswer(t *testing.T) {
	want, err := os.ReadFile("testdata/app.encoded.xml")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Encode(&out, pointers(appMessages)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("encoded\n%s\nwant\n%s", out.Bytes(), want)
	}
	// Each character the app's text held is written as UTF-8, byte for
	// byte, never as a reference.
	for _, s := range []string{"你好 😀 नमस्ते", "कल मिलते हैं 🎉 🎉", "王芳", `it's&#10;second line&#9;tab`, "a\uFFFDb\uFFFDc😀d&#13;"} {
		if !bytes.Contains(want, []byte(s)) {
			t.Errorf("the encoded file lacks %q", s)
		}
	}
}

// Chinese, Hindi and emoji, whether written as UTF-8 or as references to
// their code points or surrogate pairs, read as the same UTF-8 and are
// written back as it, byte for byte.
func TestUnicodeRoundTrip(t *testing.T) {
	for _, tc := range []struct{ in, text string }{
		{"你好，世界", "你好，世界"},
		{"&#20320;&#22909;", "你好"},
		{"नमस्ते, कल मिलते हैं", "नमस्ते, कल मिलते हैं"},
		{"&#x928;&#x92E;&#x938;&#x94D;&#x924;&#x947;", "नमस्ते"},
		{"😀🎉👋🏽", "😀🎉👋🏽"},
		{"&#55357;&#56832;&#55356;&#57225;", "😀🎉"},
		{"&#xD83D;&#xDC4B;&#xd83c;&#xdffd;", "👋🏽"},
		{"&#128512;", "😀"},
		{"mixed 王芳 &#55357;&#56832; ना भूलें", "mixed 王芳 😀 ना भूलें"},
	} {
		file := `<smses><sms date="1" body="` + tc.in + `" /></smses>`
		got := decodeOK(t, []byte(file))
		if len(got) != 1 || got[0].Attr("body") != tc.text {
			t.Errorf("%q decoded to %q, want %q", tc.in, got[0].Attr("body"), tc.text)
			continue
		}
		var out bytes.Buffer
		if err := Encode(&out, []*Message{&got[0].Message}); err != nil {
			t.Fatal(err)
		}
		if want := `body="` + tc.text + `"`; !strings.Contains(out.String(), want) {
			t.Errorf("%q encoded as\n%s\nwant %s", tc.in, out.Bytes(), want)
		}
		if again := decodeOK(t, out.Bytes()); again[0].Attr("body") != tc.text {
			t.Errorf("%q read back as %q", tc.in, again[0].Attr("body"))
		}
	}
}

func TestCharRefFixer(t *testing.T) {
	pair := "&#55357;&#56832;"
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"no refs <a/> & &amp; &#65;", "no refs <a/> & &amp; &#65;"},
		{pair, "&#128512;"},
		{"&#xd83d;&#xDE00;", "&#128512;"},
		{"&#55357;", "&#65533;"},
		{"&#55357;x", "&#65533;x"},
		{"&#56832;", "&#65533;"},
		{"&#0;&#8;&#9;&#10;&#13;&#31;&#32;", "&#65533;&#65533;&#9;&#10;&#13;&#65533;&#32;"},
		{"&#X41; &#1114112; &#00000000000001;", "&#X41; &#1114112; &#00000000000001;"},
		{"<![CDATA[" + pair + "]]>" + pair, "<![CDATA[" + pair + "]]>&#128512;"},
		{"<![CDATA[ unterminated " + pair, "<![CDATA[ unterminated " + pair},
		{"\xef\xbb\xbf<a/>", "<a/>"},
		{"&", "&"},
		{"&#", "&#"},
		{"&#5535", "&#5535"},
		{"&#55357;&#", "&#65533;&#"},
	} {
		got, err := io.ReadAll(newCharRefFixer(iotest.OneByteReader(strings.NewReader(tc.in))))
		if err != nil || string(got) != tc.want {
			t.Errorf("fix(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	// A pair or a CDATA section straddling the fixer's buffer.
	for _, tail := range []string{pair + "z", "<![CDATA[" + pair + "]]>z"} {
		for pad := fixerBuffer - 30; pad <= fixerBuffer+2; pad++ {
			in := strings.Repeat("a", pad) + tail
			want := strings.Repeat("a", pad) + strings.Replace(tail, pair+"z", "&#128512;z", 1)
			got, err := io.ReadAll(newCharRefFixer(strings.NewReader(in)))
			if err != nil || string(got) != want {
				t.Fatalf("pad %d, tail %q: got ...%q, %v", pad, tail, got[max(0, len(got)-40):], err)
			}
		}
	}
}

func TestCheck(t *testing.T) {
	for _, m := range []Message{
		{Kind: "call"},
		{Kind: KindSMS, Parts: [][]Attr{{}}},
		{Kind: KindSMS, Attrs: []Attr{{"body", "a"}, {"body", "b"}}},
		{Kind: KindMMS, Addrs: [][]Attr{{{"a b", "x"}}}},
		{Kind: KindMMS, Parts: [][]Attr{{{"1st", "x"}}}},
		{Kind: KindSMS, Attrs: []Attr{{"", "x"}}},
		{Kind: KindSMS, Attrs: make([]Attr, maxAttrs+1)},
	} {
		if err := m.Check(); err == nil {
			t.Errorf("Check(%+v) passed", m)
		}
	}
	for _, m := range appMessages {
		if err := m.Check(); err != nil {
			t.Errorf("Check of a decoded message: %v", err)
		}
	}
}

// FuzzRoundTrip checks that whatever Decode reads, Encode writes as
// well-formed XML that Decode reads back to the same messages, and that
// encoding those again gives the same bytes: decode, encode, decode is
// stable. Each message also survives its JSON form.
func FuzzRoundTrip(f *testing.F) {
	f.Add(string(appFile(f)))
	f.Add(`<smses><sms date="1" body="&#55357;&#56832;&#1;" /><mms date="2"><parts><part ct="text/plain" text="x"/></parts><addrs/></mms></smses>`)
	f.Add(`<smses><![CDATA[&#55357;&#56832;]]></smses>`)
	f.Add(`<smses><sms date="3" body="नमस्ते 你好 &#xD83C;&#xDF89;" a:b="c" /></smses>`)
	f.Add("<?xml version='1.0' encoding='latin1'?><smses/>")
	f.Fuzz(func(t *testing.T, file string) {
		msgs, err := Decode(strings.NewReader(file))
		if err != nil {
			if _, ok := err.(*candor.Error); !ok {
				t.Fatalf("error %v is not a *candor.Error", err)
			}
			return
		}
		for i := range msgs {
			m := msgs[i].Message
			if err := m.Check(); err != nil {
				t.Fatalf("a decoded message fails Check: %v", err)
			}
			b, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			var back Message
			if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(normalize(back), normalize(m)) {
				t.Fatalf("JSON round trip: %+v -> %s -> %+v, %v", m, b, back, err)
			}
		}
		first := encode(t, msgs)
		strictXML(t, first)
		again, err := Decode(bytes.NewReader(first))
		if err != nil {
			t.Fatalf("the encoded file does not decode: %v\n%s", err, first)
		}
		if len(again) != len(msgs) {
			t.Fatalf("%d messages, then %d", len(msgs), len(again))
		}
		for i := range again {
			if !reflect.DeepEqual(normalize(again[i].Message), normalize(msgs[i].Message)) {
				t.Fatalf("message %d differs after encoding:\n%+v\n%+v", i, msgs[i].Message, again[i].Message)
			}
		}
		if second := encode(t, again); !bytes.Equal(second, first) {
			t.Fatalf("encoding again differs:\n%s\n%s", first, second)
		}
	})
}

func decodeOK(t *testing.T, file []byte) []Decoded {
	t.Helper()
	ms, err := Decode(bytes.NewReader(file))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return ms
}

func pointers(ds []Decoded) []*Message {
	out := make([]*Message, len(ds))
	for i := range ds {
		out[i] = &ds[i].Message
	}
	return out
}

func encode(t *testing.T, ds []Decoded) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Encode(&b, pointers(ds)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// strictXML checks that b is well-formed XML for a strict decoder.
func strictXML(t *testing.T, b []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	for {
		_, err := d.Token()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, b)
		}
	}
}

// normalize makes empty and absent lists alike.
func normalize(m Message) Message {
	orNil := func(a []Attr) []Attr {
		if len(a) == 0 {
			return nil
		}
		return a
	}
	m.Attrs = orNil(m.Attrs)
	if len(m.Parts) == 0 {
		m.Parts = nil
	}
	if len(m.Addrs) == 0 {
		m.Addrs = nil
	}
	for i := range m.Parts {
		m.Parts[i] = orNil(m.Parts[i])
	}
	for i := range m.Addrs {
		m.Addrs[i] = orNil(m.Addrs[i])
	}
	return m
}
