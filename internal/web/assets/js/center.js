// The privacy center: an account owner signs in with their email and
// password (derived in this page, see signin.js), then sees and changes
// what the cloud holds about them.

import * as i18n from "./i18n.js";
import { t } from "./i18n.js";
import { call, setCSRF, ApiError } from "./http.js";
import { derive, login } from "./signin.js";
import { el, say, fail, clear, busy, confirm, facts } from "./ui.js";
import { checkLog } from "./accesslog.js";
import { Sections } from "./sections.js";

const policyVersion = "2026-11-01";
const $ = (id) => document.getElementById(id);

const state = { session: null };
let pages; // the sections, once the page has started

async function main() {
	await i18n.use(i18n.choose(), false);
	i18n.switcher($("lang"));
	i18n.onChange(() => {
		if (state.session) {
			whoami();
			pages.draw();
		}
	});
	$("signin-form").addEventListener("submit", signIn);
	pages = new Sections(sections, "nav.", showSignIn);
	login().catch(() => {}); // load the WebAssembly sign-in early; an error shows on sign-in
	await resume();
	$("loading").hidden = true;
}

// resume picks up the browser's session, if it has one. While the server
// is sealed or unavailable it says so and tries again when told to.
async function resume() {
	try {
		const s = await call("GET", "/v1/sessions/current");
		if (s.kind !== "browser" || !s.csrf) throw new ApiError(401, "unauthenticated", "");
		clear($("alert"));
		signedIn(s);
	} catch (e) {
		if (![401, 404, 405].includes(e.status)) fail($("alert"), e);
		if (!state.session) showSignIn();
		if (e.status === 503 && Number(e.retryAfter) > 0) setTimeout(resume, Math.min(Number(e.retryAfter), 300) * 1000);
	}
}

function showSignIn() {
	state.session = null;
	setCSRF("");
	$("app").hidden = true;
	$("signin").hidden = false;
	$("section").replaceChildren();
	$("signin-email").focus();
}

async function signIn(ev) {
	ev.preventDefault();
	const email = $("signin-email").value.trim();
	const password = $("signin-password").value;
	const region = $("signin-alert");
	clear($("alert"));
	if (!email || !password) {
		fail(region, t("signin.missing"));
		return;
	}
	if (!/^[^\s@]+@[^\s@]+$/.test(email)) {
		fail(region, t("signin.bademail")); // said at once, without hashing a password for nothing
		return;
	}
	await busy($("signin-submit"), region, async () => {
		say(t("signin.working"));
		const { handle, authKey } = await derive(email, password);
		const s = await call("POST", "/v1/sessions", { body: { handle, auth_key: authKey, browser: true } });
		if (!s || !s.csrf) throw new Error(t("signin.nobrowser"));
		$("signin-password").value = "";
		signedIn(s);
		say(t("signin.done"));
	});
}

function signedIn(s) {
	state.session = s;
	setCSRF(s.csrf);
	$("signin").hidden = true;
	$("app").hidden = false;
	whoami();
	$("nav").querySelector("button").focus(); // focus was on the sign-in, now hidden
	pages.open("overview");
}

function whoami() {
	const s = state.session;
	$("whoami").textContent = t("center.whoami", { region: s.region || "—", until: i18n.time(s.expires_at) });
}

// Sections (sections.js draws them; the table is at the end).

const reload = () => pages.reload();
const change = (button, f, done) => pages.change(button, f, done);

function categoryName(c) {
	return t("cat." + c);
}

// Overview: one row per category, the region and the retention rules.
function loadOverview() {
	return call("GET", "/v1/account/summary");
}

function drawOverview(s) {
	const rows = (s.categories || []).map((c) => {
		const b = el("button", {
			type: "button",
			class: c.on ? "secondary" : "",
			text: c.on ? t("consent.turnoff") : t("consent.turnon"),
			"aria-label": (c.on ? t("consent.turnoff") : t("consent.turnon")) + ": " + categoryName(c.category),
		});
		b.addEventListener("click", () => toggle(b, c));
		return el(
			"tr",
			{},
			el("th", { scope: "row", text: categoryName(c.category) }),
			el("td", {}, el("span", { class: c.on ? "badge ok" : "badge off", text: c.on ? t("consent.on") : t("consent.off") })),
			el("td", { text: i18n.number(c.records) }),
			el("td", { text: i18n.bytes(c.bytes) }),
			el("td", { text: i18n.time(c.last_change) }),
			el("td", {}, b),
		);
	});
	const table = el(
		"table",
		{},
		el("caption", { class: "sr-only", text: t("overview.caption") }),
		el(
			"thead",
			{},
			el("tr", {}, ...["overview.category", "overview.state", "overview.records", "overview.bytes", "overview.lastchange", "overview.action"].map((k) => el("th", { scope: "col", text: t(k) }))),
		),
		el("tbody", {}, rows),
	);
	const r = s.retention || {};
	const rules = [
		[t("retention.deleted_items"), r.deleted_items],
		[t("retention.undelivered_messages"), r.undelivered_messages],
		[t("retention.abandoned_uploads"), r.abandoned_uploads],
		...Object.entries(r.other || {}),
	];
	return [
		facts([
			[t("overview.region"), s.region],
			[t("overview.created"), i18n.time(s.created)],
		]),
		table,
		el("h3", { text: t("retention.heading") }),
		el("p", { class: "muted", text: t("retention.intro") }),
		facts(rules),
	];
}

async function toggle(button, c) {
	const name = categoryName(c.category);
	const ok = await confirm(
		c.on
			? {
					title: t("consent.off.title", { category: name }),
					body: el(
						"div",
						{},
						el("p", { text: t("consent.off.body", { category: name, records: i18n.number(c.records), bytes: i18n.bytes(c.bytes) }) }),
						el("p", { text: t("consent.off.phone") }),
					),
					ok: t("consent.off.confirm"),
					danger: true,
				}
			: {
					title: t("consent.on.title", { category: name }),
					body: el("div", {}, el("p", { text: t("collects." + c.category) }), el("p", { text: t("consent.on.body") })),
					ok: t("consent.on.confirm"),
				},
	);
	if (!ok) return;
	await change(
		button,
		() => call("PUT", "/v1/consents/" + encodeURIComponent(c.category), { body: { on: !c.on, policy_version: policyVersion } }),
		c.on ? t("consent.off.done", { category: name }) : t("consent.on.done", { category: name }),
	);
}

// Devices and app passwords.
function loadDevices() {
	return call("GET", "/v1/devices");
}

function drawDevices(d) {
	const list = el("ul", { class: "plain" });
	for (const dev of d.devices || []) {
		const kind = dev.kind === "app" ? t("devices.app") : dev.kind === "browser" ? t("devices.browser") : t("devices.phone");
		// A device without a live session (revoked, signed out, expired)
		// stays listed, with nothing left to revoke.
		let b = null;
		if (dev.signed_in !== false) {
			b = el("button", { type: "button", class: "danger", text: t("devices.revoke"), "aria-label": t("devices.revoke") + ": " + (dev.name || kind) });
			b.addEventListener("click", () => revoke(b, dev, kind));
		}
		list.append(
			el(
				"li",
				{},
				el("strong", { text: dev.name ? `${kind}: ${dev.name}` : kind }),
				dev.current ? [" ", el("span", { class: "badge ok", text: t("devices.current") })] : null,
				dev.signed_in === false ? [" ", el("span", { class: "badge off", text: t("devices.signedout") })] : null,
				facts([
					[t("devices.id"), el("span", { class: "mono", text: dev.id })],
					[t("devices.created"), i18n.time(dev.created)],
				]),
				b,
			),
		);
	}
	return [el("p", { class: "muted", text: t("devices.intro") }), list];
}

async function revoke(button, dev, kind) {
	const ok = await confirm({
		title: t("devices.revoke.title", { device: dev.name || kind }),
		body: dev.current ? t("devices.revoke.current") : t("devices.revoke.body"),
		ok: t("devices.revoke"),
		danger: true,
	});
	if (!ok) return;
	await busy(button, $("alert"), async () => {
		await call("DELETE", "/v1/devices/" + encodeURIComponent(dev.id));
		say(t("devices.revoked"));
		if (dev.current) showSignIn();
		else await reload();
	});
}

// The access log, verified in this page.
function loadAccessLog() {
	return checkLog(state.session.account);
}

function drawAccessLog(v) {
	const out = [];
	if (v.alarm) {
		out.push(el("div", { class: "alert alarm", role: "alert" }, el("p", { text: t(v.alarm, v.alarmVars) })));
	}
	out.push(
		el("p", { class: "muted", text: t("log.intro") }),
		facts([
			[t("log.fingerprint"), el("span", { class: "mono", text: v.fingerprint })],
			[t("log.pinned"), v.pinnedNow ? t("log.pinnednow") : i18n.time(v.pinnedAt)],
			[t("log.checkpoint"), v.checkpoint ? t("log.checkpointsize", { size: i18n.number(v.checkpoint.size) }) : "—"],
		]),
		el("p", { class: "muted", text: t("log.compare") }),
	);
	if (v.alarm && !v.entries) return out;
	const staff = v.entries.filter((e) => e.staff);
	const own = v.entries.filter((e) => !e.staff);
	out.push(el("h3", { text: t("log.staff") }));
	out.push(staff.length ? entryList(staff, true) : el("p", { text: t("log.nostaff") }));
	out.push(el("h3", { text: t("log.other") }));
	out.push(own.length ? entryList(own, false) : el("p", { text: t("log.none") }));
	if (v.more) out.push(el("p", { class: "muted", text: t("log.more") }));
	return out;
}

// actionName is an access log action in words, where the page has them;
// the action's own name is shown beside it (the phone's CLI prints that).
function actionName(action) {
	const key = "action." + action;
	const name = t(key);
	return name === key ? action : name;
}

function entryList(entries, staff) {
	const ul = el("ul", { class: "plain" });
	for (const e of entries.slice().reverse()) {
		ul.append(
			el(
				"li",
				{ class: staff ? "staffread" : "" },
				el("strong", { text: `${actionName(e.action)}${e.category ? " · " + categoryName(e.category) : ""}` }),
				" ",
				el("code", { text: e.action }),
				" ",
				e.verified ? el("span", { class: "badge ok", text: "✓ " + t("log.verified") }) : el("span", { class: "badge off", text: t("log.unverified") }),
				facts([
					[t("log.when"), i18n.time(e.time)],
					[t("log.who"), e.actor],
					[t("log.why"), e.reason],
					[t("log.approvers"), (e.approvers || []).join(", ")],
					[t("log.outcome"), e.outcome],
					[t("log.count"), e.count !== undefined ? i18n.number(e.count) : ""],
					[t("log.grant"), e.grant],
					[t("log.index"), String(e.index)],
				]),
			),
		);
	}
	return ul;
}

// Staff requests waiting for the owner, and the staff-access setting.
async function loadRequests() {
	const [list, setting] = await Promise.all([call("GET", "/v1/account/access-requests"), call("GET", "/v1/account/staff-access")]);
	return { ...list, ownerApproval: !!(setting && setting.owner_approval) };
}

function drawRequests(d) {
	const waiting = el("ul", { class: "plain" });
	const rest = el("ul", { class: "plain" });
	for (const r of d.requests || []) {
		const isWaiting = r.owner_approval && !r.owner_approved && !r.revoked;
		const item = el(
			"li",
			{},
			el("strong", { text: t("requests.item", { requester: r.requester, categories: (r.categories || []).map(categoryName).join(", ") }) }),
			facts([
				[t("requests.reason"), r.reason],
				[t("requests.duration"), r.duration],
				[t("requests.created"), i18n.time(r.created)],
				[t("requests.quorum"), t("requests.approvals", { have: (r.approvals || []).length, need: r.needed })],
				[t("requests.state"), requestState(r)],
			]),
		);
		if (isWaiting) {
			const yes = el("button", { type: "button", text: t("requests.approve") });
			const no = el("button", { type: "button", class: "danger", text: t("requests.refuse") });
			yes.addEventListener("click", () => change(yes, () => call("POST", `/v1/account/access-requests/${encodeURIComponent(r.id)}/approve`), t("requests.approved")));
			no.addEventListener("click", async () => {
				const ok = await confirm({ title: t("requests.refuse.title"), body: t("requests.refuse.body"), ok: t("requests.refuse"), danger: true });
				if (ok) await change(no, () => call("POST", `/v1/account/access-requests/${encodeURIComponent(r.id)}/refuse`), t("requests.refused"));
			});
			item.append(el("div", { class: "row" }, yes, no));
			waiting.append(item);
		} else rest.append(item);
	}
	const on = el("button", { type: "button", text: t("staffaccess.on"), "aria-pressed": String(d.ownerApproval) });
	const off = el("button", { type: "button", class: "secondary", text: t("staffaccess.off"), "aria-pressed": String(!d.ownerApproval) });
	on.addEventListener("click", () => change(on, () => call("PUT", "/v1/account/staff-access", { body: { owner_approval: true } }), t("staffaccess.ondone")));
	off.addEventListener("click", () => change(off, () => call("PUT", "/v1/account/staff-access", { body: { owner_approval: false } }), t("staffaccess.offdone")));
	return [
		el("p", { class: "muted", text: t("requests.intro") }),
		el("h3", { text: t("requests.waiting") }),
		waiting.childElementCount ? waiting : el("p", { text: t("requests.nowaiting") }),
		el("h3", { text: t("requests.past") }),
		rest.childElementCount ? rest : el("p", { text: t("requests.none") }),
		el("h3", { text: t("staffaccess.heading") }),
		el("p", { text: t("staffaccess.intro") }),
		el("p", { id: "staffaccess-now", text: t(d.ownerApproval ? "staffaccess.now.on" : "staffaccess.now.off") }),
		el("div", { class: "row" }, on, off),
	];
}

function requestState(r) {
	if (r.refused_by_owner) return t("requests.state.refused");
	if (r.revoked) return t("requests.state.revoked");
	if (r.granted) return t("requests.state.granted", { until: i18n.time(r.expires) });
	if (r.owner_approval && !r.owner_approved) return t("requests.state.owner");
	return t("requests.state.waiting");
}

// The account: export, sign out, delete.
function loadAccount() {
	return {};
}

function drawAccount() {
	const out = el("button", { type: "button", class: "secondary", text: t("account.signout") });
	out.addEventListener("click", signOut);
	const email = el("input", { id: "del-email", type: "email", autocomplete: "username", required: true });
	const pw = el("input", { id: "del-password", type: "password", autocomplete: "current-password", required: true });
	const del = el("button", { type: "submit", class: "danger", text: t("account.delete") });
	const region = el("div", { class: "alert", role: "alert" });
	const form = el(
		"form",
		{ novalidate: true },
		el("label", { for: "del-email", text: t("signin.email") }),
		email,
		el("label", { for: "del-password", text: t("account.password") }),
		pw,
		el("div", { class: "row" }, del),
		region,
	);
	form.addEventListener("submit", (ev) => {
		ev.preventDefault();
		deleteAccount(del, region, email, pw);
	});
	return [
		el("h3", { text: t("account.export") }),
		el("p", { text: t("account.export.intro") }),
		el("p", {}, el("a", { class: "button", href: "/v1/account/export", download: "", text: t("account.export.button") })),
		el("h3", { text: t("account.signout") }),
		el("p", {}, out),
		el("h3", { text: t("account.delete") }),
		el("p", { text: t("account.delete.intro") }),
		form,
	];
}

async function signOut() {
	await busy(null, $("alert"), async () => {
		try {
			await call("DELETE", "/v1/sessions/current");
		} catch (e) {
			if (e.status !== 401) throw e;
		}
		showSignIn();
		say(t("account.signedout"));
	});
}

async function deleteAccount(button, region, email, pw) {
	clear(region);
	if (!email.value.trim() || !pw.value) {
		fail(region, t("signin.missing"));
		return;
	}
	const ok = await confirm({ title: t("account.delete.title"), body: t("account.delete.body"), ok: t("account.delete"), danger: true });
	if (!ok) return;
	await busy(button, region, async () => {
		say(t("account.delete.working"));
		const { authKey } = await derive(email.value.trim(), pw.value);
		await call("DELETE", "/v1/account", { body: { auth_key: authKey } });
		pw.value = "";
		showSignIn();
		say(t("account.deleted"));
	});
}

// The sections, by the name their button carries.
const sections = {
	overview: { load: loadOverview, draw: drawOverview },
	devices: { load: loadDevices, draw: drawDevices },
	log: { load: loadAccessLog, draw: drawAccessLog },
	requests: { load: loadRequests, draw: drawRequests },
	account: { load: loadAccount, draw: drawAccount },
};

main().catch((e) => {
	$("loading").hidden = true;
	fail($("alert"), e);
});

