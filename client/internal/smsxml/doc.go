// Package smsxml reads and writes the XML files of the Android app "SMS
// Backup & Restore": a <smses> element holding <sms> elements and <mms>
// elements with their <parts><part/></parts> and <addrs><addr/></addrs>.
//
// A file becomes a list of Messages, each the attributes of its element,
// in file order, with their values as text, whatever their names, and, for
// an MMS, the attributes of each part and address. Nothing is interpreted:
// the device SDK (package client) reads what it shows from the
// attributes, and writing the Messages back gives the file that was read,
// but for the escaping below.
//
// # Reading
//
// Decode reads UTF-8 (or ASCII) XML 1.0, strictly, with two exceptions
// for what the app writes: character references to UTF-16 surrogate pairs,
// which it writes for emoji (&#55357;&#56832;), are read as the one
// character they encode, and references to characters XML cannot hold (a
// lone surrogate, control characters other than tab, newline and carriage
// return) are read as U+FFFD. A leading byte order mark is dropped.
// Everything else is kept byte for byte. Errors are Invalid or TooLarge
// *candor.Errors naming the line, never holding the file's text.
//
// # Writing
//
// Encode writes the app's XML declaration, <smses count="N">, then each
// message's element with its attributes in their order. Values are escaped
// as the app does (&amp; &lt; &gt; &quot;, and &#10; &#13; &#9; for line
// breaks and tabs); other characters are written as UTF-8, and one XML
// cannot hold as U+FFFD, so the file is always well-formed XML 1.0. Decode
// reads what Encode writes back to the same Messages.
package smsxml
