// The owner's access log, checked in this page with the same code the
// phone runs (candorLogin.checkEntries, checkConsistency and checkShown,
// from the WebAssembly build): every entry's inclusion in a checkpoint
// signed by the audit key; that every entry names the account pseudonym
// this browser pinned for the signed-in account; that all pages of one
// load are of one log that only grew between them; that the log only grew
// since this browser last saw it; and that every entry shown before is
// shown again. The audit key, the pseudonym and what was shown are kept in
// this browser; a check that fails is an alarm, never silently accepted.
// This file only fetches, stores and passes state: the checks are Go.

import { call } from "./http.js";
import { login } from "./signin.js";
import { t } from "./i18n.js";

const pinKey = "candor.audit.pin";
const maxPages = 20;

function read(k) {
	try {
		return JSON.parse(localStorage.getItem(k) || "null");
	} catch {
		return null;
	}
}

function write(k, v) {
	try {
		localStorage.setItem(k, JSON.stringify(v));
	} catch {
		// storage off: nothing is pinned, every visit is a first use
	}
}

const checks = ["checkEntries", "checkConsistency", "checkShown", "keyFingerprint"];

async function checker() {
	const L = await login();
	for (const f of checks) {
		if (typeof L[f] !== "function") throw new Error(t("log.nocheck"));
	}
	return L;
}

// proofFrom fetches the consistency proof from a tree of oldSize entries to
// checkpoint's ("" when the sizes are equal: the check then compares the
// trees themselves).
function proofFrom(checkpoint, oldSize) {
	if (oldSize === checkpoint.size) return "";
	return call("GET", `/v1/audit/${encodeURIComponent(checkpoint.log)}/consistency?old=${oldSize}&size=${checkpoint.size}`, { text: true });
}

// checkLog fetches and checks the account's access log; account is the
// signed-in account's id, which keys what this browser keeps of it. It
// resolves to {fingerprint, pinnedAt, pinnedNow, checkpoint, entries,
// more} and, when something is wrong, alarm (an i18n key) and alarmVars.
export async function checkLog(account) {
	const L = await checker();
	const { key } = await call("GET", "/v1/audit/key");
	const fingerprint = await L.keyFingerprint(key);
	let pin = read(pinKey);
	let pinnedNow = false;
	if (!pin || typeof pin.key !== "string") {
		pin = { key, at: new Date().toISOString() };
		write(pinKey, pin);
		pinnedNow = true;
	}
	const out = { fingerprint, pinnedAt: pin.at, pinnedNow };
	if (pin.key !== key) {
		// A pin that is not even a key (storage edited or corrupted) is
		// an alarm as well: it is shown by its first characters.
		const pinned = await L.keyFingerprint(pin.key).catch(() => String(pin.key).slice(0, 16));
		return { ...out, alarm: "log.alarm.key", alarmVars: { pinned, now: fingerprint } };
	}

	// The account's pseudonym in the logs, pinned per signed-in account
	// from the first entry this browser saw: a page of another account's
	// entries is refused by checkEntries.
	const pseudonymKey = `candor.audit.account.${account}`;
	const stored = read(pseudonymKey);
	let pseudonym = typeof stored === "string" ? stored : "";

	const entries = [];
	let checkpoint = null;
	let note = "";
	let raw = null;
	let more = false;
	let path = "/v1/account/access-log";
	for (let i = 0; i < maxPages; i++) {
		const text = await call("GET", path, { text: true });
		let page;
		try {
			page = await L.checkEntries(key, text, pseudonym);
			if (typeof page === "string") page = JSON.parse(page);
		} catch (e) {
			return { ...out, alarm: "log.alarm.proof", alarmVars: { problem: e.message } };
		}
		const pageRaw = JSON.parse(text);
		// Every page of one load is of one log, each page's checkpoint
		// extending the one before (the log may grow while it is read).
		if (raw && pageRaw.checkpoint.note !== note) {
			try {
				const proof = await proofFrom(page.checkpoint, checkpoint.size);
				await L.checkConsistency(key, note, JSON.stringify(pageRaw.checkpoint), proof);
			} catch (e) {
				return { ...out, alarm: "log.alarm.fork", alarmVars: { problem: e.message } };
			}
		}
		raw = pageRaw;
		checkpoint = page.checkpoint;
		note = raw.checkpoint.note;
		if (page.account) pseudonym = page.account;
		entries.push(...page.entries);
		more = !!raw.more;
		if (!more || page.entries.length === 0) break;
		path = "/v1/account/access-log?after=" + page.entries[page.entries.length - 1].index;
	}

	// The log must extend the one this browser saw last time, and show
	// again every entry it showed then. What was seen is kept per signed-in
	// account, audit key and log (the log's name is the signed checkpoint's).
	const seenKey = `candor.audit.seen.${account}.${fingerprint}.${checkpoint.log}`;
	const seen = read(seenKey);
	let alarm = "";
	let alarmVars = {};
	if (seen && seen.size > checkpoint.size) {
		alarm = "log.alarm.shrunk";
		alarmVars = { before: seen.size, now: checkpoint.size };
	} else if (seen && seen.size === checkpoint.size && seen.hash !== checkpoint.hash) {
		alarm = "log.alarm.fork";
	} else if (seen && seen.size < checkpoint.size) {
		try {
			const proof = await proofFrom(checkpoint, seen.size);
			await L.checkConsistency(key, seen.note, JSON.stringify(raw.checkpoint), proof);
		} catch (e) {
			alarm = "log.alarm.fork";
			alarmVars = { problem: e.message };
		}
	}
	let shown = seen ? seen.shown || null : null;
	if (!alarm) {
		try {
			shown = await L.checkShown(shown ? JSON.stringify(shown) : "", JSON.stringify(entries.map((e) => ({ index: e.index }))));
		} catch (e) {
			alarm = "log.alarm.shown";
			alarmVars = { problem: e.message };
		}
	}
	if (!alarm) {
		write(seenKey, { size: checkpoint.size, hash: checkpoint.hash, note, shown });
		if (pseudonym) write(pseudonymKey, pseudonym);
	}
	return { ...out, checkpoint, entries, more, alarm, alarmVars };
}
