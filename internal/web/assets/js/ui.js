// Small helpers for building the pages: elements, the alert and status
// regions, and a confirmation dialog that traps focus and closes with
// Escape (a modal <dialog>).

import { t } from "./i18n.js";

// el makes an element: attrs sets attributes (on* keys add listeners,
// text sets textContent), children are nodes or strings.
export function el(tag, attrs = {}, ...children) {
	const e = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs)) {
		if (v === undefined || v === null || v === false) continue;
		if (k === "text") e.textContent = v;
		else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
		else e.setAttribute(k, v === true ? "" : v);
	}
	for (const c of children.flat()) {
		if (c === undefined || c === null || c === false) continue;
		e.append(c instanceof Node ? c : document.createTextNode(String(c)));
	}
	return e;
}

// say puts a message in the page's live status region.
export function say(message) {
	const s = document.getElementById("status");
	s.textContent = "";
	s.textContent = message;
}

// fail shows an error's message in region (an element with role=alert),
// never a stack trace.
export function fail(region, err) {
	const msg = err && err.message ? err.message : String(err || t("error.unknown"));
	region.textContent = msg;
}

export function clear(region) {
	region.textContent = "";
}

// busy disables a button while f runs, showing errors in region.
export async function busy(button, region, f) {
	if (region) clear(region);
	if (button) button.disabled = true;
	try {
		return await f();
	} catch (e) {
		say(""); // a "working…" status is no longer true
		if (region) fail(region, e);
		else throw e;
	} finally {
		if (button) button.disabled = false;
	}
}

// confirm asks once, in a modal dialog of the page: title, body (a
// string or nodes), the label of the confirming button and whether it is
// dangerous. It resolves true when confirmed, false when cancelled or
// closed with Escape. Focus goes back where it was.
export function confirm({ title, body, ok, danger }) {
	return new Promise((resolve) => {
		const back = document.activeElement;
		const id = "dlg-" + Math.random().toString(36).slice(2);
		const yes = el("button", { type: "button", class: danger ? "danger" : "", text: ok });
		const no = el("button", { type: "button", class: "secondary", text: t("common.cancel") });
		const d = el(
			"dialog",
			{ "aria-labelledby": id + "-t", "aria-describedby": id + "-b" },
			el("h2", { id: id + "-t", text: title }),
			el("div", { id: id + "-b" }, typeof body === "string" ? el("p", { text: body }) : body),
			el("div", { class: "row" }, yes, no),
		);
		let answer = false;
		yes.addEventListener("click", () => {
			answer = true;
			d.close();
		});
		no.addEventListener("click", () => d.close());
		d.addEventListener("close", () => {
			d.remove();
			if (back && back.focus) back.focus();
			resolve(answer);
		});
		document.body.append(d);
		d.showModal();
		no.focus();
	});
}

// facts makes a <dl> of [label, value] pairs.
export function facts(pairs) {
	const dl = el("dl", { class: "facts" });
	for (const [k, v] of pairs) {
		if (v === undefined || v === null || v === "") continue;
		dl.append(el("dt", { text: k }), el("dd", {}, v));
	}
	return dl;
}
