// The sign-in derivations, in this page: the WebAssembly build of the
// phone's own code (internal/web/wasm) blinds the email, and derives the
// auth key from the password with the account's salt and cost. Only the
// blinded element, the handle and the auth key are sent; the email and
// the password never leave the page.

import { b64, unb64 } from "./b64.js";
import { call } from "./http.js";

let ready = null;

// login loads the WebAssembly build once and resolves to candorLogin.
export function login() {
	if (!ready) {
		ready = (async () => {
			const go = new globalThis.Go();
			const { instance } = await WebAssembly.instantiateStreaming(fetch("/assets/candor.wasm", { credentials: "same-origin" }), go.importObject);
			go.run(instance);
			if (!globalThis.candorLogin) throw new Error("candorLogin is missing");
			return globalThis.candorLogin;
		})();
		ready.catch(() => {
			ready = null; // try again next time
		});
	}
	return ready;
}

// derive runs blind → /v1/auth/handle → finish → /v1/auth/salt →
// deriveKeys and returns the handle and auth key, base64.
export async function derive(email, password) {
	const L = await login();
	const { blinded, state } = await L.blind(email);
	const { evaluated } = await call("POST", "/v1/auth/handle", { body: { blinded: b64(blinded) } });
	const handle = await L.finish(state, unb64(evaluated));
	const { salt, kdf } = await call("POST", "/v1/auth/salt", { body: { handle: b64(handle) } });
	const keys = await L.deriveKeys(password, unb64(salt), kdf);
	return { handle: b64(handle), authKey: b64(keys.authKey) };
}
