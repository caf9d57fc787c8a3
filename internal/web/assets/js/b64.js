// Base64 (the API's byte fields) and base64url (WebAuthn's), to and from
// bytes.

export function b64(bytes) {
	const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
	let s = "";
	for (const x of u8) s += String.fromCharCode(x);
	return btoa(s);
}

export function unb64(s) {
	return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
}

export function b64url(buf) {
	return b64(new Uint8Array(buf)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

// unb64url decodes base64url (padded or not) to an ArrayBuffer.
export function unb64url(s) {
	let t = String(s).replace(/-/g, "+").replace(/_/g, "/");
	while (t.length % 4) t += "=";
	return unb64(t).buffer;
}
