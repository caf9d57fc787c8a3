// The staff console: staff sign in with a passkey (registered once with
// their CLI staff token), see access requests and their quorum, ask for
// access, approve with a fresh passkey assertion, refuse or revoke, and
// see the audit logs, the seal, migrations and retention.

import * as i18n from "./i18n.js";
import { t } from "./i18n.js";
import { call, setCSRF, ApiError } from "./http.js";
import { b64url, unb64url } from "./b64.js";
import { el, say, fail, clear, busy, confirm, facts } from "./ui.js";
import { Sections } from "./sections.js";

const $ = (id) => document.getElementById(id);
const categories = ["contacts", "notes", "sms", "photos", "messaging"];

const state = { session: null, seal: null };
let pages; // the sections, once the page has started

async function main() {
	await i18n.use(i18n.choose(), false);
	i18n.switcher($("lang"));
	i18n.onChange(() => {
		drawSeal();
		if (state.session) {
			whoami();
			pages.draw();
		}
	});
	$("passkey-signin").addEventListener("click", signIn);
	$("register-form").addEventListener("submit", register);
	$("staff-signout").addEventListener("click", signOut);
	pages = new Sections(sections, "staff.nav.", showSignIn);
	try {
		signedIn(await call("GET", "/v1/staff/sessions/current"));
	} catch (e) {
		if (![401, 404, 405].includes(e.status)) fail($("alert"), e);
		showSignIn();
	}
	$("loading").hidden = true;
}

// seal shows, before sign-in, whether the server is sealed and how far an
// unseal has got (GET /v1/operator/status needs no sign-in and never holds
// a share).
async function seal() {
	try {
		state.seal = await call("GET", "/v1/operator/status");
	} catch (e) {
		state.seal = null;
		fail($("alert"), e);
	}
	drawSeal();
}

function drawSeal() {
	const box = $("seal-facts");
	box.replaceChildren(...(state.seal ? sealFacts(state.seal) : []));
}

function sealFacts(status) {
	if (!status.initialized) return [facts([[t("staff.seal.state"), t("staff.seal.uninitialized")]])];
	return [
		facts([
			[t("staff.seal.state"), status.sealed ? t("staff.seal.sealed") : t("staff.seal.unsealed")],
			[t("staff.seal.progress"), status.sealed ? t("staff.seal.offered", { submitted: status.submitted, threshold: status.threshold }) : ""],
			[t("staff.seal.shares"), t("staff.seal.split", { shares: status.shares, threshold: status.threshold })],
		]),
	];
}

function showSignIn() {
	seal();
	state.session = null;
	setCSRF("");
	$("app").hidden = true;
	$("signin").hidden = false;
	$("section").replaceChildren();
}

function signedIn(s) {
	state.session = s;
	setCSRF(s.csrf);
	$("signin").hidden = true;
	$("app").hidden = false;
	whoami();
	$("nav").querySelector("button").focus(); // focus was on the sign-in, now hidden
	pages.open("requests");
}

function whoami() {
	const s = state.session;
	$("whoami").textContent = t("staff.whoami", { name: s.name, roles: (s.roles || []).join(", "), until: i18n.time(s.expires_at) });
}

// WebAuthn: the server's options carry binary fields as base64url.

function creationOptions(o) {
	const pk = { ...o.publicKey };
	pk.challenge = unb64url(pk.challenge);
	pk.user = { ...pk.user, id: unb64url(pk.user.id) };
	if (pk.excludeCredentials) pk.excludeCredentials = pk.excludeCredentials.map((c) => ({ ...c, id: unb64url(c.id) }));
	return { publicKey: pk };
}

function requestOptions(o) {
	const pk = { ...o.publicKey };
	pk.challenge = unb64url(pk.challenge);
	if (pk.allowCredentials) pk.allowCredentials = pk.allowCredentials.map((c) => ({ ...c, id: unb64url(c.id) }));
	return { publicKey: pk };
}

function assertionJSON(cred) {
	const r = cred.response;
	const out = {
		id: cred.id,
		rawId: b64url(cred.rawId),
		type: cred.type,
		response: {
			authenticatorData: b64url(r.authenticatorData),
			clientDataJSON: b64url(r.clientDataJSON),
			signature: b64url(r.signature),
		},
	};
	if (r.userHandle) out.response.userHandle = b64url(r.userHandle);
	return out;
}

async function passkey(f) {
	if (!window.PublicKeyCredential || !navigator.credentials) throw new Error(t("staff.nopasskeys"));
	try {
		return await f();
	} catch (e) {
		if (e instanceof ApiError) throw e;
		throw new Error(t("staff.passkeyfailed", { problem: e.message || e.name }));
	}
}

async function register(ev) {
	ev.preventDefault();
	const token = $("register-token").value.trim();
	if (!token) {
		fail($("alert"), t("staff.register.missing"));
		return;
	}
	await busy($("register-submit"), $("alert"), async () => {
		const o = await call("POST", "/v1/staff/passkeys/options", { bearer: token });
		const cred = await passkey(() => navigator.credentials.create(creationOptions(o)));
		const r = cred.response;
		const body = {
			id: cred.id,
			rawId: b64url(cred.rawId),
			type: cred.type,
			response: { attestationObject: b64url(r.attestationObject), clientDataJSON: b64url(r.clientDataJSON) },
		};
		if (typeof r.getTransports === "function") body.response.transports = r.getTransports();
		await call("POST", "/v1/staff/passkeys", { bearer: token, body });
		$("register-token").value = "";
		say(t("staff.register.done"));
	});
}

async function signIn() {
	await busy($("passkey-signin"), $("alert"), async () => {
		const o = await call("POST", "/v1/staff/sessions/options");
		const cred = await passkey(() => navigator.credentials.get(requestOptions(o)));
		signedIn(await call("POST", "/v1/staff/sessions", { body: assertionJSON(cred) }));
		say(t("signin.done"));
	});
}

async function signOut() {
	await busy(null, $("alert"), async () => {
		try {
			await call("DELETE", "/v1/staff/sessions/current");
		} catch (e) {
			if (e.status !== 401) throw e;
		}
		showSignIn();
		say(t("account.signedout"));
	});
}

// Sections (sections.js draws them; the table is at the end).

const change = (button, f, done) => pages.change(button, f, done);

// Access requests, newest first, with their quorum.
function loadRequests() {
	return call("GET", "/v1/access-requests");
}

function drawRequests(d) {
	const list = el("ul", { class: "plain" });
	for (const r of d.requests || []) {
		const approvals = r.approvals || [];
		const byPasskey = approvals.filter((a) => a.method === "passkey").length;
		const item = el(
			"li",
			{},
			el("strong", { text: t("staff.request.item", { requester: r.requester, account: r.account }) }),
			facts([
				[t("staff.request.categories"), (r.categories || []).map((c) => t("cat." + c)).join(", ")],
				[t("requests.reason"), r.reason],
				[t("requests.duration"), r.duration],
				[t("requests.created"), i18n.time(r.created)],
				[t("requests.quorum"), t("staff.request.quorum", { have: approvals.length, need: r.needed, passkey: byPasskey })],
				[t("staff.request.approvers"), approvals.map((a) => `${a.approver} (${a.method === "passkey" ? t("staff.method.passkey") : t("staff.method.token")})`).join(", ")],
				[t("staff.request.owner"), r.owner_approval ? (r.owner_approved ? t("staff.owner.approved") : t("staff.owner.waiting")) : t("staff.owner.notneeded")],
				[t("requests.state"), stateOf(r)],
				[t("staff.request.refusal"), r.refusal],
			]),
		);
		if (!r.revoked) {
			const row = el("div", { class: "row" });
			if (!r.granted) {
				const yes = el("button", { type: "button", text: t("requests.approve") });
				yes.addEventListener("click", () => approve(yes, r));
				row.append(yes);
			}
			const no = el("button", { type: "button", class: "danger", text: r.granted ? t("staff.revoke") : t("requests.refuse") });
			no.addEventListener("click", async () => {
				const ok = await confirm({ title: t("staff.revoke.title"), body: t("staff.revoke.body"), ok: no.textContent, danger: true });
				if (ok) await change(no, () => call("POST", `/v1/access-requests/${encodeURIComponent(r.id)}/revoke`), t("staff.revoked"));
			});
			row.append(no);
			item.append(row);
		}
		list.append(item);
	}
	return list.childElementCount ? list : el("p", { text: t("requests.none") });
}

function stateOf(r) {
	if (r.revoked) return r.refused_by_owner ? t("requests.state.refused") : t("requests.state.revoked");
	if (r.granted) return t("requests.state.granted", { until: i18n.time(r.expires) });
	if (r.owner_approval && !r.owner_approved) return t("requests.state.owner");
	return t("requests.state.waiting");
}

async function approve(button, r) {
	await change(
		button,
		async () => {
			const o = await call("POST", `/v1/access-requests/${encodeURIComponent(r.id)}/approve/options`);
			const cred = await passkey(() => navigator.credentials.get(requestOptions(o)));
			await call("POST", `/v1/access-requests/${encodeURIComponent(r.id)}/approve`, { body: { assertion: assertionJSON(cred) } });
		},
		t("staff.approved"),
	);
}

// Ask for access.
function loadCreate() {
	return {};
}

function drawCreate() {
	const account = el("input", { id: "req-account", type: "text", required: true, spellcheck: "false", autocomplete: "off" });
	const reason = el("textarea", { id: "req-reason", required: true, rows: "3", maxlength: "500" });
	const duration = el("select", { id: "req-duration" }, ...["15m", "1h", "4h", "24h"].map((d) => el("option", { value: d, text: d })));
	duration.value = "1h";
	const boxes = categories.map((c) => el("input", { type: "checkbox", id: "req-cat-" + c, value: c }));
	const fieldset = el(
		"fieldset",
		{},
		el("legend", { text: t("staff.request.categories") }),
		...categories.map((c, i) => el("label", { class: "inline", for: "req-cat-" + c }, boxes[i], t("cat." + c))),
	);
	const submit = el("button", { type: "submit", text: t("staff.create.button") });
	const form = el(
		"form",
		{ novalidate: true },
		el("label", { for: "req-account", text: t("staff.create.account") }),
		account,
		fieldset,
		el("label", { for: "req-reason", text: t("requests.reason") }),
		reason,
		el("label", { for: "req-duration", text: t("requests.duration") }),
		duration,
		el("div", { class: "row" }, submit),
	);
	form.addEventListener("submit", (ev) => {
		ev.preventDefault();
		const cats = boxes.filter((b) => b.checked).map((b) => b.value);
		if (!account.value.trim() || !reason.value.trim() || cats.length === 0) {
			fail($("alert"), t("staff.create.missing"));
			return;
		}
		busy(submit, $("alert"), async () => {
			await call("POST", "/v1/access-requests", { body: { account: account.value.trim(), categories: cats, reason: reason.value.trim(), duration: duration.value } });
			say(t("staff.created"));
			await pages.open("requests");
		});
	});
	return [el("p", { class: "muted", text: t("staff.create.intro") }), form];
}

// The seal, the audit logs, migrations and retention.
async function loadSystem() {
	const status = await call("GET", "/v1/operator/status");
	let cons = null;
	let problem = null;
	try {
		cons = await call("GET", "/v1/operator/console");
	} catch (e) {
		problem = e;
	}
	return { status, cons, problem };
}

function drawSystem({ status, cons, problem }) {
	const out = [el("h3", { text: t("staff.seal.heading") }), ...sealFacts(status)];
	if (problem) {
		out.push(el("div", { class: "alert", role: "alert", text: problem.message }));
		return out;
	}
	out.push(el("h3", { text: t("staff.logs.heading") }));
	const logs = el("ul", { class: "plain" });
	for (const l of cons.logs || []) {
		const v = l.verified;
		logs.append(
			el(
				"li",
				{},
				el("strong", { class: "mono", text: l.name }),
				facts([
					[t("staff.logs.size"), i18n.number(l.size)],
					[t("log.checkpoint"), l.checkpoint ? t("staff.logs.checkpoint", { size: i18n.number(l.checkpoint.size), time: i18n.time(l.checkpoint.time) }) : t("staff.logs.never")],
					[t("staff.logs.verified"), v ? (v.ok ? t("staff.logs.ok", { time: i18n.time(v.time) }) : t("staff.logs.bad", { time: i18n.time(v.time), problem: v.problem || "" })) : t("staff.logs.never")],
				]),
			),
		);
	}
	out.push(logs);
	out.push(el("h3", { text: t("staff.migrations.heading") }));
	const migs = cons.migrations || [];
	out.push(
		migs.length
			? el(
					"ul",
					{ class: "plain" },
					migs.map((m) =>
						el(
							"li",
							{},
							el("strong", { class: "mono", text: m.id }),
							facts([
								[t("staff.migrations.to"), m.to],
								[t("staff.migrations.progress"), t("staff.migrations.done", { done: m.done, total: m.total })],
								[t("staff.migrations.started"), i18n.time(m.started)],
								[t("staff.migrations.finished"), m.finished ? i18n.time(m.finished) : t("staff.migrations.running")],
								[t("staff.migrations.error"), m.error],
							]),
						),
					),
				)
			: el("p", { text: t("staff.migrations.none") }),
	);
	const r = cons.retention || {};
	out.push(
		el("h3", { text: t("staff.retention.heading") }),
		facts([
			[t("staff.retention.last"), r.last_run ? i18n.time(r.last_run) : t("staff.logs.never")],
			[t("staff.retention.running"), r.running ? t("common.yes") : t("common.no")],
		]),
	);
	return out;
}

// The sections, by the name their button carries.
const sections = {
	requests: { load: loadRequests, draw: drawRequests },
	create: { load: loadCreate, draw: drawCreate },
	system: { load: loadSystem, draw: drawSystem },
};

main().catch((e) => {
	$("loading").hidden = true;
	fail($("alert"), e);
});
