// Requests to the API, from this origin only. Every change carries the
// page's CSRF token; every failure becomes an ApiError whose message is
// the API's own sentence, or one of ours for a network failure.

import { t } from "./i18n.js";

let csrf = "";

export function setCSRF(token) {
	csrf = token || "";
}

export class ApiError extends Error {
	constructor(status, code, message, retryAfter) {
		super(message);
		this.status = status;
		this.code = code;
		this.retryAfter = retryAfter;
	}
}

// call sends one request. opts: body (sent as JSON), bearer (a staff
// token, for registering a passkey), text (answer the body's text).
export async function call(method, path, opts = {}) {
	const headers = { Accept: "application/json" };
	const init = { method, headers, credentials: "same-origin", cache: "no-store", redirect: "error" };
	if (opts.body !== undefined) {
		headers["Content-Type"] = "application/json";
		init.body = JSON.stringify(opts.body);
	}
	if (method !== "GET" && method !== "HEAD" && csrf) headers["X-Candor-CSRF"] = csrf;
	if (opts.bearer) headers.Authorization = "Bearer " + opts.bearer;
	let r;
	try {
		r = await fetch(path, init);
	} catch {
		throw new ApiError(0, "network", t("error.network"));
	}
	if (!r.ok) {
		let code = "";
		let message = "";
		try {
			const j = await r.json();
			code = (j && j.error && j.error.code) || "";
			message = (j && j.error && j.error.message) || "";
		} catch {
			// not the API's error body (a proxy's page): say the status
		}
		if (!message) message = t("error.status", { status: r.status });
		const wait = r.headers.get("Retry-After");
		if (r.status === 503) {
			message = (code === "sealed" ? t("error.sealed") + " " : "") + message;
			if (wait) message += " " + t("error.retry", { seconds: wait });
		}
		throw new ApiError(r.status, code, message, wait);
	}
	if (r.status === 204) return null;
	if (opts.text) return r.text();
	return r.json();
}
