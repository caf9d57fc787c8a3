// The owner's access log, checked in this page with the same code the
// phone runs (candorLogin.checkEntries and checkConsistency, from the
// WebAssembly build): every entry's inclusion in a checkpoint signed by
// the audit key, and that the log only grew since this browser last saw
// it. The audit key is pinned in this browser on first use; a different
// key later is an alarm, never silently accepted.

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

async function checker() {
	const L = await login();
	for (const f of ["checkEntries", "checkConsistency", "keyFingerprint"]) {
		if (typeof L[f] !== "function") throw new Error(t("log.nocheck"));
	}
	return L;
}

// checkLog fetches and checks the account's access log. It resolves to
// {fingerprint, pinnedAt, pinnedNow, checkpoint, entries, more} and, when
// something is wrong, alarm (an i18n key) and alarmVars.
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
			page = await L.checkEntries(key, text);
			if (typeof page === "string") page = JSON.parse(page);
		} catch (e) {
			return { ...out, alarm: "log.alarm.proof", alarmVars: { problem: e.message } };
		}
		raw = JSON.parse(text);
		checkpoint = page.checkpoint;
		note = raw.checkpoint.note;
		entries.push(...page.entries);
		more = !!raw.more;
		if (!more || page.entries.length === 0) break;
		path = "/v1/account/access-log?after=" + page.entries[page.entries.length - 1].index;
	}

	// The log must extend the one this browser saw last time.
	const seenKey = `candor.audit.seen.${account}.${checkpoint.log}`;
	const seen = read(seenKey);
	let alarm = "";
	let alarmVars = {};
	if (seen && seen.size > checkpoint.size) {
		alarm = "log.alarm.shrunk";
		alarmVars = { before: seen.size, now: checkpoint.size };
	} else if (seen && seen.size === checkpoint.size && seen.hash !== checkpoint.hash) {
		alarm = "log.alarm.fork";
	} else if (seen && seen.size < checkpoint.size) {
		const proof = await call("GET", `/v1/audit/${encodeURIComponent(checkpoint.log)}/consistency?old=${seen.size}&size=${checkpoint.size}`, { text: true });
		try {
			await L.checkConsistency(key, seen.note, JSON.stringify(raw.checkpoint), proof);
		} catch (e) {
			alarm = "log.alarm.fork";
			alarmVars = { problem: e.message };
		}
	}
	if (!alarm) write(seenKey, { size: checkpoint.size, hash: checkpoint.hash, note });
	return { ...out, checkpoint, entries, more, alarm, alarmVars };
}
