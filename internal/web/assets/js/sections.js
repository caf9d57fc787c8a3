// The tabbed sections of a page (the privacy center's, the staff
// console's): the nav buttons (arrow keys move between them), loading a
// section's data, drawing it under its heading, drawing it again on a
// change of language, and a change that reloads the section it was made in.

import { t } from "./i18n.js";
import { el, say, fail, clear, busy } from "./ui.js";

const $ = (id) => document.getElementById(id);

// Sections drives the sections of table ({name: {load, draw}}) in the
// page's #nav, #section and #alert; heading is the i18n key prefix of
// their headings; signedOut is called when a load answers 401.
export class Sections {
	constructor(table, heading, signedOut) {
		this.table = table;
		this.heading = heading;
		this.signedOut = signedOut;
		this.name = "";
		this.data = {}; // the last answer of each section
		const nav = $("nav");
		for (const b of nav.querySelectorAll("button[data-section]")) b.addEventListener("click", () => this.open(b.dataset.section));
		nav.addEventListener("keydown", (ev) => this.keys(ev));
	}

	keys(ev) {
		if (ev.key !== "ArrowRight" && ev.key !== "ArrowLeft") return;
		const bs = [...$("nav").querySelectorAll("button[data-section]")];
		const i = bs.indexOf(document.activeElement);
		if (i < 0) return;
		bs[(i + (ev.key === "ArrowRight" ? 1 : bs.length - 1)) % bs.length].focus();
		ev.preventDefault();
	}

	title(name) {
		return el("h2", { text: t(this.heading + name) });
	}

	// open loads and draws section name; a failure is shown in #alert.
	async open(name) {
		this.name = name;
		for (const b of $("nav").querySelectorAll("button[data-section]")) {
			if (b.dataset.section === name) b.setAttribute("aria-current", "page");
			else b.removeAttribute("aria-current");
		}
		clear($("alert"));
		$("section").replaceChildren(this.title(name), el("p", { class: "muted", text: t("common.loading") }));
		try {
			this.data[name] = await this.table[name].load();
			if (this.name === name) this.draw();
		} catch (e) {
			if (e.status === 401) {
				this.signedOut();
				fail($("alert"), e);
				return;
			}
			$("section").replaceChildren(this.title(name));
			fail($("alert"), e);
		}
	}

	// draw draws the open section from its last answer.
	draw() {
		const data = this.data[this.name];
		if (data === undefined) return;
		$("section").replaceChildren(this.title(this.name), ...[this.table[this.name].draw(data)].flat());
	}

	reload() {
		return this.open(this.name);
	}

	// change runs f (a change), says done and reloads the section; an
	// error goes to #alert.
	async change(button, f, done) {
		await busy(button, $("alert"), async () => {
			await f();
			say(done);
			await this.reload();
		});
	}
}
