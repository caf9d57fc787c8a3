// The pages' strings, in English, Hindi and Simplified Chinese. Every
// visible string comes from assets/i18n/<lang>.json: elements name theirs
// with data-i18n (text), data-i18n-label (aria-label) or
// data-i18n-placeholder; scripts call t(key, {name: value}).

export const languages = ["en", "hi", "zh-Hans"];
const names = { en: "English", hi: "हिन्दी", "zh-Hans": "简体中文" };
const storeKey = "candor.lang";

let dict = {};
let current = "en";
const listeners = [];

// choose picks the remembered language, else the first of the browser's
// languages the pages have, else English.
export function choose() {
	let saved = null;
	try {
		saved = localStorage.getItem(storeKey);
	} catch {
		// storage off: choose from the browser's languages
	}
	if (languages.includes(saved)) return saved;
	for (const tag of navigator.languages || [navigator.language || "en"]) {
		const l = String(tag).toLowerCase();
		if (l.startsWith("zh")) return "zh-Hans";
		if (l === "hi" || l.startsWith("hi-")) return "hi";
		if (l === "en" || l.startsWith("en-")) return "en";
	}
	return "en";
}

// use loads lang's strings, marks <html lang>, fills every marked element
// and tells the listeners, so they draw their parts again.
export async function use(lang, remember) {
	if (!languages.includes(lang)) lang = "en";
	const r = await fetch(`/assets/i18n/${lang}.json`, { credentials: "same-origin" });
	if (!r.ok) throw new Error(`/assets/i18n/${lang}.json: ${r.status}`);
	dict = await r.json();
	current = lang;
	document.documentElement.lang = lang;
	if (remember) {
		try {
			localStorage.setItem(storeKey, lang);
		} catch {
			// not remembered: storage is off
		}
	}
	apply(document);
	for (const f of listeners) f(lang);
}

export function lang() {
	return current;
}

export function onChange(f) {
	listeners.push(f);
}

// t is the string of key in the current language, with {name} replaced by
// vars.name.
export function t(key, vars) {
	let s = Object.prototype.hasOwnProperty.call(dict, key) ? dict[key] : key;
	if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
	return s;
}

// apply fills the marked elements under root.
export function apply(root) {
	for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
	for (const el of root.querySelectorAll("[data-i18n-label]")) el.setAttribute("aria-label", t(el.dataset.i18nLabel));
	for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.setAttribute("placeholder", t(el.dataset.i18nPlaceholder));
}

// switcher fills a <select> with the languages, each named in itself.
export function switcher(select) {
	select.replaceChildren();
	for (const l of languages) {
		const o = document.createElement("option");
		o.value = l;
		o.lang = l;
		o.textContent = names[l];
		select.append(o);
	}
	select.value = current;
	select.addEventListener("change", () => use(select.value, true));
	onChange((l) => {
		select.value = l;
	});
}

// time formats an RFC 3339 time for the current language.
export function time(s) {
	if (!s) return "—";
	const d = new Date(s);
	if (Number.isNaN(d.getTime())) return String(s);
	return new Intl.DateTimeFormat(current, { dateStyle: "medium", timeStyle: "short" }).format(d);
}

// bytes formats a size for people.
export function bytes(n) {
	n = Number(n) || 0;
	const units = ["B", "KB", "MB", "GB", "TB"];
	let i = 0;
	while (n >= 1000 && i < units.length - 1) {
		n /= 1000;
		i++;
	}
	return new Intl.NumberFormat(current, { maximumFractionDigits: i ? 1 : 0 }).format(n) + " " + units[i];
}

export function number(n) {
	return new Intl.NumberFormat(current).format(Number(n) || 0);
}
