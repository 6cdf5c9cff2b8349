// Nuru staff console: plain JavaScript over the admin API. No framework,
// no build step, no third-party host. Every text a user reads is in French
// and English; every value from the server goes into the page as text.
"use strict";

const T = {
  fr: {
    title: "Nuru", email: "E-mail", password: "Mot de passe", signIn: "Se connecter", signOut: "Se déconnecter",
    inbox: "Boîte de réception", agenda: "Agenda", patients: "Patients", settings: "Réglages",
    needsPerson: "Attendent une personne", recent: "Récentes", emergency: "URGENCE", waiting: "attend une personne", undelivered: "réponse non remise",
    nothing: "Rien pour l'instant.", back: "← Retour", takeOver: "Prendre la main", release: "Rendre au bot",
    reply: "Répondre", send: "Envoyer", chars: "caractères", segments: "SMS", outsideWindow:
      "Plus de 24 heures depuis le dernier message du patient : WhatsApp n'accepte plus de texte libre, seulement un modèle approuvé.",
    patientsOfPhone: "Patients liés à ce numéro", upcoming: "Rendez-vous à venir", none: "Aucun",
    notFound: "Introuvable, ou vous n'y avez pas accès.", forbidden: "Votre compte ne peut pas faire cela.",
    day: "Jour", week: "Semaine", today: "Aujourd'hui", prev: "←", next: "→", practitioner: "Praticien",
    all: "Tous", book: "Prendre rendez-vous", move: "Déplacer", cancel: "Annuler", attended: "Venu", noShow: "Absent",
    confirmCancel: "Annuler ce rendez-vous ? Le créneau redevient libre.", service: "Service", patient: "Patient",
    search: "Rechercher", date: "Date", freeSlots: "Créneaux libres", noSlots: "Aucun créneau libre ce jour-là.",
    booked: "Réservé.", moved: "Déplacé.", cancelled: "Annulé.", marked: "Enregistré.", sent: "Envoyé.",
    chooseSlot: "Choisissez un nouveau créneau", firstName: "Prénom", lastName: "Nom", birthDate: "Date de naissance",
    phones: "Téléphones", addPhone: "Ajouter un numéro", remove: "Retirer", save: "Enregistrer", saved: "Enregistré.",
    erase: "Effacer ce patient", eraseConfirm:
      "Effacer définitivement ce patient ? Son nom et sa date de naissance sont effacés, ses rendez-vous à venir annulés, ses numéros détachés, ses conversations vidées et ses documents supprimés. Cela ne peut pas être annulé.",
    erased: "Patient effacé.", appointments: "Rendez-vous", newPatient: "Nouveau patient", create: "Créer",
    clinic: "Clinique", hours: "Heures d'ouverture", windows: "Plages de consultation", services: "Services",
    practitioners: "Praticiens", exceptions: "Exceptions", holidays: "Jours fériés", timezone: "Fuseau horaire",
    answers: "Réponses", language: "English", error: "Erreur", you: "Équipe", bot: "Nuru", patientSays: "Patient",
    statuses: { booked: "réservé", cancelled: "annulé", attended: "venu", no_show: "absent" },
    states: { idle: "au repos", booking: "réservation", cancelling: "annulation", moving: "déplacement", file: "dossier",
      attach: "fichier", handed_off: "avec l'équipe" },
    weekdays: ["lun", "mar", "mer", "jeu", "ven", "sam", "dim"], min: "min", name: "Nom", add: "Ajouter",
    reason: "Motif", from: "Du", to: "Au", closed: "Fermé", inactive: "inactif", emergenciesOnly: "Urgences seulement", filter: "Filtrer", stateLabel: "État", notYourAgenda: "Vous ne voyez que votre propre agenda.",
    address: "Adresse", phone: "Téléphone", emergencyNumber: "Numéro d'urgence", minNotice: "Délai minimum (minutes)",
    horizon: "Réservable jusqu'à (jours)", kinds: { leave: "congé", training: "formation", emergency: "urgence", busy: "occupé" },
  },
  en: {
    title: "Nuru", email: "E-mail", password: "Password", signIn: "Sign in", signOut: "Sign out",
    inbox: "Inbox", agenda: "Agenda", patients: "Patients", settings: "Settings",
    needsPerson: "Waiting for a person", recent: "Recent", emergency: "EMERGENCY", waiting: "waiting for a person", undelivered: "reply not delivered",
    nothing: "Nothing for now.", back: "← Back", takeOver: "Take over", release: "Hand back to the bot",
    reply: "Reply", send: "Send", chars: "characters", segments: "SMS", outsideWindow:
      "More than 24 hours since the patient's last message: WhatsApp no longer accepts free text, only an approved template.",
    patientsOfPhone: "Patients linked to this number", upcoming: "Upcoming appointments", none: "None",
    notFound: "Not found, or not yours to see.", forbidden: "Your account may not do this.",
    day: "Day", week: "Week", today: "Today", prev: "←", next: "→", practitioner: "Practitioner",
    all: "All", book: "Book", move: "Move", cancel: "Cancel", attended: "Attended", noShow: "No-show",
    confirmCancel: "Cancel this appointment? Its time becomes free again.", service: "Service", patient: "Patient",
    search: "Search", date: "Date", freeSlots: "Free times", noSlots: "No free time that day.",
    booked: "Booked.", moved: "Moved.", cancelled: "Cancelled.", marked: "Recorded.", sent: "Sent.",
    chooseSlot: "Choose a new time", firstName: "First name", lastName: "Last name", birthDate: "Birth date",
    phones: "Phones", addPhone: "Add a number", remove: "Remove", save: "Save", saved: "Saved.",
    erase: "Erase this patient", eraseConfirm:
      "Erase this patient for good? Their name and birth date are blanked, their upcoming appointments cancelled, their numbers unlinked, their conversations emptied and their documents deleted. This cannot be undone.",
    erased: "Patient erased.", appointments: "Appointments", newPatient: "New patient", create: "Create",
    clinic: "Clinic", hours: "Opening hours", windows: "Consultation windows", services: "Services",
    practitioners: "Practitioners", exceptions: "Exceptions", holidays: "Public holidays", timezone: "Time zone",
    answers: "Answers", language: "Français", error: "Error", you: "Staff", bot: "Nuru", patientSays: "Patient",
    statuses: { booked: "booked", cancelled: "cancelled", attended: "attended", no_show: "no-show" },
    states: { idle: "idle", booking: "booking", cancelling: "cancelling", moving: "moving", file: "file",
      attach: "file received", handed_off: "with staff" },
    weekdays: ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], min: "min", name: "Name", add: "Add",
    reason: "Reason", from: "From", to: "To", closed: "Closed", inactive: "inactive", emergenciesOnly: "Emergencies only", filter: "Filter", stateLabel: "State", notYourAgenda: "You can see your own agenda only.",
    address: "Address", phone: "Phone", emergencyNumber: "Emergency number", minNotice: "Minimum notice (minutes)",
    horizon: "Bookable up to (days ahead)", kinds: { leave: "leave", training: "training", emergency: "emergency", busy: "busy" },
  },
};

let lang = localStorage.getItem("nuru.lang") || ((navigator.language || "en").toLowerCase().startsWith("fr") ? "fr" : "en");
const t = (k) => T[lang][k];
const app = document.getElementById("app");

// ---- the session: cookies the script cannot read, a CSRF token in memory
const session = { csrf: null, me: null, timer: null, clinics: [], offset: 0 };
// Now on the server's clock (a shared desk's clock may be wrong).
const now = () => new Date(Date.now() + session.offset);

async function startSession(response) {
  const body = await response.json();
  session.csrf = body.csrf;
  clearTimeout(session.timer);
  session.timer = setTimeout(refresh, Math.max(30, body.expires_in - 60) * 1000);
}

// One refresh at a time: a refresh token is good for one use, and calls that
// fail together (after a laptop slept) must share the refresh, not race it.
let refreshing = null;
function refresh() {
  if (!refreshing) {
    refreshing = (async () => {
      const r = await fetch("/console/session/refresh", { method: "POST", credentials: "same-origin" });
      if (!r.ok) { session.csrf = null; return false; }
      await startSession(r);
      return true;
    })().finally(() => { refreshing = null; });
  }
  return refreshing;
}

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

const etags = new Map();
const cached = new Map();

// A call to the admin API with the session's cookie. GETs are conditional:
// an unchanged answer comes back as 304 and the previous body is reused.
async function api(method, path, body, retried) {
  const headers = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET") headers["x-csrf-token"] = session.csrf || "";
  if (method === "GET" && etags.has(path)) headers["if-none-match"] = etags.get(path);
  const r = await fetch("/api" + path, { method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body) });
  if (r.status === 401 && !retried) {
    if (await refresh()) return api(method, path, body, true);
    showLogin();
    throw new ApiError(401, "signed out");
  }
  if (r.status === 304) return cached.get(path);
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = { error: { message: text.slice(0, 200) } }; }
  if (!r.ok) {
    const message = r.status === 404 ? t("notFound") : r.status === 403 && data?.error?.code === "forbidden"
      ? t("forbidden") : (data?.error?.message || `${t("error")} ${r.status}`);
    throw new ApiError(r.status, message);
  }
  if (method === "GET" && r.headers.get("etag")) { etags.set(path, r.headers.get("etag")); cached.set(path, data); }
  return data;
}

// ---- building the page: elements and text nodes only, never HTML strings
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

// Replaces an element's children (arrays flattened, absent ones skipped).
function fill(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
}

function notice(text, kind) {
  const el = h("p", { class: "notice " + (kind || ""), role: kind === "bad" ? "alert" : "status" }, text);
  return el;
}

function fail(container, e) {
  fill(container, notice(e.message, "bad"));
}

// ---- dates and times in the clinic's zone
let zone = "UTC";
const fmt = (opts) => new Intl.DateTimeFormat(lang === "fr" ? "fr-FR" : "en-GB", { timeZone: zone, ...opts });
const time = (iso) => fmt({ hour: "2-digit", minute: "2-digit" }).format(new Date(iso));
const dayLabel = (iso) => fmt({ weekday: "long", day: "numeric", month: "long" }).format(new Date(iso));
const stamp = (iso) => fmt({ day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" }).format(new Date(iso));
function localDate(d) {
  const parts = new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" }).format(d);
  return parts;
}
function addDays(date, n) {
  const d = new Date(date + "T12:00:00Z");
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}
function monday(date) {
  const d = new Date(date + "T12:00:00Z");
  return addDays(date, -((d.getUTCDay() + 6) % 7));
}

// ---- SMS length: GSM 7-bit or UCS-2, as Twilio counts segments
const GSM = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM_EXT = "^{}\\[~]|€";
function smsSegments(text) {
  let septets = 0, gsm = true;
  for (const ch of text) {
    if (GSM.includes(ch)) septets += 1;
    else if (GSM_EXT.includes(ch)) septets += 2;
    else { gsm = false; break; }
  }
  if (gsm) return septets <= 160 ? 1 : Math.ceil(septets / 153);
  const units = [...text].reduce((n, ch) => n + (ch.codePointAt(0) > 0xffff ? 2 : 1), 0);
  return units <= 70 ? 1 : Math.ceil(units / 67);
}

// ---- layout
const state = { clinic: null, clinicInfo: null, role: null, practitionerId: null, poll: null, page: 0 };

// Polls a page's loader every 3 s, unless the page was left while its first
// load was on the way (route() counts pages; a later one owns the poll).
function poll(page, load) {
  if (page === state.page) state.poll = setInterval(load, 3000);
}

function roleIn(clinicId) {
  if (session.me.superadmin) return "clinic_admin";
  return session.me.memberships.find((m) => m.clinic_id === clinicId)?.role || null;
}

function showLogin(message) {
  clearInterval(state.poll);
  document.title = t("title");
  const email = h("input", { type: "email", name: "email", autocomplete: "username", required: true, id: "email" });
  const password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true, id: "password" });
  const status = h("div");
  const form = h("form", { class: "login", onsubmit: async (ev) => {
    ev.preventDefault();
    const r = await fetch("/console/session", { method: "POST", credentials: "same-origin",
      headers: { "content-type": "application/json" }, body: JSON.stringify({ email: email.value, password: password.value }) });
    if (!r.ok) {
      const data = await r.json().catch(() => ({}));
      fill(status, notice(data?.error?.message || `${t("error")} ${r.status}`, "bad"));
      return;
    }
    await startSession(r);
    await boot();
  } },
  h("h1", {}, "Nuru"),
  h("label", { for: "email" }, t("email")), email,
  h("label", { for: "password" }, t("password")), password,
  h("button", { type: "submit" }, t("signIn")), status, languageButton());
  fill(app, form);
  if (message) status.append(notice(message));
}

function languageButton() {
  return h("button", { type: "button", class: "link", onclick: () => {
    lang = lang === "fr" ? "en" : "fr";
    localStorage.setItem("nuru.lang", lang);
    document.documentElement.lang = lang;
    session.me ? route() : showLogin();
  } }, t("language"));
}

function shell(active, content) {
  const c = state.clinic;
  const links = [["inbox", t("inbox"), state.role !== "practitioner"], ["agenda", t("agenda"), true],
    ["patients", t("patients"), state.role !== "practitioner"], ["settings", t("settings"), state.role === "clinic_admin"]];
  const clinicPicker = session.clinics.length > 1
    ? h("select", { "aria-label": t("clinic"), onchange: (e) => { location.hash = `#/${e.target.value}/inbox`; } },
      session.clinics.map((x) => h("option", { value: x.id, selected: x.id === c }, x.name)))
    : h("span", { class: "clinic" }, state.clinicInfo?.name || "");
  const nav = h("nav", {}, links.filter((l) => l[2]).map(([k, label]) =>
    h("a", { href: `#/${c}/${k}`, class: active === k ? "active" : "" }, label)));
  const header = h("header", {}, h("strong", {}, "Nuru"), clinicPicker, nav,
    h("span", { class: "spacer" }), languageButton(),
    h("button", { type: "button", class: "link", id: "logout", onclick: logout }, t("signOut")));
  fill(app, header, h("main", {}, content));
}

async function logout() {
  clearInterval(state.poll);
  clearTimeout(session.timer);
  await fetch("/console/session/logout", { method: "POST", credentials: "same-origin" });
  session.csrf = null; session.me = null; etags.clear(); cached.clear();
  location.hash = "";
  showLogin();
}

// ---- inbox: people first, emergencies on top; polled every 3 seconds
const seenUrgent = new Set();
let inboxPrimed = false;

function beep() {
  try {
    const ctx = new AudioContext();
    const osc = ctx.createOscillator();
    osc.frequency.value = 880;
    osc.connect(ctx.destination);
    osc.start();
    osc.stop(ctx.currentTime + 0.4);
  } catch (_) { /* sound is a bonus */ }
}

function conversationRow(c) {
  return h("li", { class: "conv" + (c.urgent ? " urgent" : "") + (c.needs_human ? " waiting" : "") },
    h("a", { href: `#/${state.clinic}/c/${c.id}` },
      c.urgent ? h("span", { class: "badge urgent" }, t("emergency")) : null,
      c.needs_human && !c.urgent ? h("span", { class: "badge" }, t("waiting")) : null,
      c.undelivered ? h("span", { class: "badge urgent" }, t("undelivered")) : null,
      h("span", { class: "phone" }, c.phone),
      h("span", { class: "muted" }, `${c.channel === "whatsapp" ? "WhatsApp" : "SMS"} · ${t("states")[c.state] || c.state}`),
      h("time", { datetime: c.updated_at }, stamp(c.updated_at))));
}

async function inbox(params) {
  const list = h("div", { id: "inbox" });
  // The API's filters, kept in the address so a filtered inbox can be bookmarked.
  const filters = new URLSearchParams();
  for (const k of ["urgent", "state", "from", "to"]) if (params.get(k)) filters.set(k, params.get(k));
  const urgent = h("input", { type: "checkbox", id: "filter-urgent", checked: params.get("urgent") === "true" });
  const flow = h("select", { id: "filter-state", "aria-label": t("stateLabel") }, h("option", { value: "" }, t("all")),
    Object.entries(t("states")).map(([k, label]) => h("option", { value: k, selected: params.get("state") === k }, label)));
  const from = h("input", { type: "date", id: "filter-from", value: params.get("from") || "", "aria-label": t("from") });
  const to = h("input", { type: "date", id: "filter-to", value: params.get("to") || "", "aria-label": t("to") });
  const apply = (e) => {
    e.preventDefault();
    const p = new URLSearchParams();
    if (urgent.checked) p.set("urgent", "true");
    if (flow.value) p.set("state", flow.value);
    if (from.value) p.set("from", from.value);
    if (to.value) p.set("to", to.value);
    location.hash = `#/${state.clinic}/inbox${p.toString() ? "?" + p : ""}`;
  };
  const filterForm = h("form", { class: "row filters", id: "inbox-filters", onsubmit: apply },
    h("label", { class: "check" }, urgent, ` ${t("emergenciesOnly")}`), flow, from, to, h("button", { type: "submit" }, t("filter")));
  // Folded on a phone until used: the inbox comes first.
  const folded = h("details", { class: "filters", open: filters.toString() !== "" }, h("summary", {}, t("filter")), filterForm);
  shell("inbox", [h("h1", {}, t("inbox")), folded, list]);
  const suffix = filters.toString() ? "&" + filters : "";
  const load = async () => {
    try {
      const [waiting, recent] = await Promise.all([
        api("GET", `/clinics/${state.clinic}/conversations?needs_human=true&limit=100${suffix}`),
        api("GET", `/clinics/${state.clinic}/conversations?limit=30${suffix}`),
      ]);
      const people = [...waiting.items].sort((a, b) => (b.urgent - a.urgent) || b.updated_at.localeCompare(a.updated_at));
      const others = recent.items.filter((c) => !c.needs_human);
      let fresh = false;
      for (const c of people) if (c.urgent && !seenUrgent.has(c.id)) { seenUrgent.add(c.id); fresh = inboxPrimed; }
      inboxPrimed = true;
      const urgentCount = people.filter((c) => c.urgent).length;
      document.title = urgentCount ? `(${urgentCount}) ${t("emergency")} · Nuru` : `${t("inbox")} · Nuru`;
      if (fresh) beep();
      fill(list, 
        h("h2", {}, `${t("needsPerson")} (${people.length})`),
        people.length ? h("ul", { class: "list", id: "waiting" }, people.map(conversationRow)) : notice(t("nothing")),
        h("h2", {}, t("recent")),
        others.length ? h("ul", { class: "list", id: "recent" }, others.map(conversationRow)) : notice(t("nothing")));
    } catch (e) { if (e.status !== 401) fail(list, e); }
  };
  const page = state.page;
  await load();
  poll(page, load);
}

// ---- a conversation: transcript, the patients of the number, take over, reply, release
async function conversation(id) {
  const head = h("div", { id: "conversation-head" });
  const transcript = h("ol", { class: "transcript", id: "transcript" });
  const people = h("section", { class: "side" });
  const status = h("div", { id: "conversation-status" });
  const body = h("textarea", { id: "reply-body", rows: 3, maxlength: 1600, "aria-label": t("reply") });
  const counter = h("span", { class: "muted", id: "reply-count" });
  const updateCount = () => { counter.textContent = `${[...body.value].length} ${t("chars")} · ${smsSegments(body.value)} ${t("segments")}`; };
  body.addEventListener("input", updateCount);
  updateCount();
  const replyForm = h("form", { class: "reply", onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      await api("POST", `/clinics/${state.clinic}/conversations/${id}/reply`, { body: body.value });
      body.value = ""; updateCount();
      fill(status, notice(t("sent"), "good"));
      await load();
    } catch (e) { fill(status, notice(e.message, "bad")); }
  } }, body, h("div", { class: "row" }, counter, h("button", { type: "submit", id: "send" }, t("send"))));
  shell("inbox", [h("a", { href: `#/${state.clinic}/inbox` }, t("back")), head, status,
    h("div", { class: "split" }, h("div", {}, transcript, replyForm), people)]);

  const act = (path, done) => async () => {
    try { await api("POST", `/clinics/${state.clinic}/conversations/${id}/${path}`); fill(status, notice(done, "good")); await load(); }
    catch (e) { fill(status, notice(e.message, "bad")); }
  };
  let patientsShown = false;
  const load = async () => {
    try {
      const [c, messages] = await Promise.all([
        api("GET", `/clinics/${state.clinic}/conversations/${id}`),
        api("GET", `/clinics/${state.clinic}/conversations/${id}/messages`),
      ]);
      fill(head, h("h1", {}, c.full_phone),
        h("p", {}, c.urgent ? h("span", { class: "badge urgent" }, t("emergency")) : null,
          h("span", { class: "muted" }, ` ${c.channel === "whatsapp" ? "WhatsApp" : "SMS"} · ${t("states")[c.state] || c.state}`)),
        h("div", { class: "row" },
          c.state === "handed_off"
            ? h("button", { type: "button", id: "release", onclick: act("release", t("release")) }, t("release"))
            : h("button", { type: "button", id: "take-over", onclick: act("take-over", t("takeOver")) }, t("takeOver"))));
      replyForm.hidden = false;
      const closed = !c.can_reply;
      body.disabled = closed;
      replyForm.querySelector("button").disabled = closed;
      if (closed) fill(status, notice(t("outsideWindow"), "bad"));
      fill(transcript, ...messages.map((m) => h("li", { class: m.direction === "in" ? "in" : "out " + m.author },
        h("div", { class: "who" }, m.direction === "in" ? t("patientSays") : m.author === "staff" ? t("you") : t("bot"),
          " · ", stamp(m.at), m.direction === "out" ? ` · ${m.delivery || m.status}` : ""),
        h("div", { class: "body" }, m.body))));
      if (!patientsShown) { patientsShown = true; showPatients(people, c.full_phone); }
    } catch (e) { if (e.status !== 401) { clearInterval(state.poll); fail(head, e); fill(transcript, ); replyForm.hidden = true; } }
  };
  const page = state.page;
  await load();
  poll(page, load);
}

async function showPatients(container, phone) {
  try {
    const page = await api("GET", `/clinics/${state.clinic}/patients?phone=${encodeURIComponent(phone)}`);
    const from = now().toISOString();
    const items = await Promise.all(page.items.map((p) => api("GET", `/clinics/${state.clinic}/patients/${p.id}`)));
    fill(container, h("h2", {}, t("patientsOfPhone")), ...(items.length ? items.map((p) => {
      const upcoming = p.appointments.filter((a) => a.status === "booked" && a.starts_at >= from);
      return h("div", { class: "card" }, h("a", { href: `#/${state.clinic}/p/${p.id}` }, `${p.first_name} ${p.last_name}`),
        h("h3", {}, t("upcoming")), upcoming.length
          ? h("ul", {}, upcoming.map((a) => h("li", {}, `${dayLabel(a.starts_at)} ${time(a.starts_at)}`)))
          : h("p", { class: "muted" }, t("none")));
    }) : [notice(t("none"))]));
  } catch (e) { fail(container, e); }
}

// ---- agenda: day or week per practitioner; book, move, cancel, mark
const catalog = { practitioners: [], services: [] };
// What the last change did, shown once by the page it re-renders.
let flash = null;
const patientNames = new Map();

async function loadCatalog() {
  [catalog.practitioners, catalog.services] = await Promise.all([
    api("GET", `/clinics/${state.clinic}/practitioners`), api("GET", `/clinics/${state.clinic}/services`)]);
}
const practitionerName = (id) => { const p = catalog.practitioners.find((x) => x.id === id); return p ? `${p.title} ${p.last_name}`.trim() : id; };
const serviceName = (id) => { const s = catalog.services.find((x) => x.id === id); return s ? (lang === "fr" ? s.name_fr : s.name_en) : id; };

async function patientName(id) {
  if (state.role === "practitioner") return "";
  if (!patientNames.has(id)) {
    try { const p = await api("GET", `/clinics/${state.clinic}/patients/${id}`); patientNames.set(id, `${p.first_name} ${p.last_name}`); }
    catch (_) { patientNames.set(id, "—"); }
  }
  return patientNames.get(id);
}

async function agenda(params) {
  const today = localDate(now());
  const date = params.get("date") || today;
  const view = params.get("view") || "day";
  let practitioner = params.get("p") || "";
  const content = h("div", { id: "agenda" });
  shell("agenda", [h("h1", {}, t("agenda")), content]);
  try {
    await loadCatalog();
    if (state.role === "practitioner") {
      if (practitioner && state.practitionerId && practitioner !== state.practitionerId) {
        fill(content, notice(t("notYourAgenda"), "bad"));
        return;
      }
      practitioner = state.practitionerId || "";
    }
    const go = (changes) => {
      const p = new URLSearchParams({ date, view, p: practitioner, ...changes });
      location.hash = `#/${state.clinic}/agenda?${p}`;
    };
    const from = view === "week" ? monday(date) : date;
    const to = view === "week" ? addDays(from, 6) : date;
    const query = `from=${from}&to=${to}` + (practitioner ? `&practitioner_id=${practitioner}` : "");
    const appointments = (await api("GET", `/clinics/${state.clinic}/appointments?${query}`))
      .sort((a, b) => a.starts_at.localeCompare(b.starts_at));
    const names = await Promise.all(appointments.map((a) => patientName(a.patient_id)));
    const toolbar = h("div", { class: "row toolbar" },
      h("button", { type: "button", onclick: () => go({ date: addDays(date, view === "week" ? -7 : -1) }) }, t("prev")),
      h("input", { type: "date", value: date, "aria-label": t("date"), onchange: (e) => go({ date: e.target.value }) }),
      h("button", { type: "button", onclick: () => go({ date: addDays(date, view === "week" ? 7 : 1) }) }, t("next")),
      h("button", { type: "button", onclick: () => go({ date: today }) }, t("today")),
      h("button", { type: "button", class: view === "day" ? "on" : "", onclick: () => go({ view: "day" }) }, t("day")),
      h("button", { type: "button", class: view === "week" ? "on" : "", onclick: () => go({ view: "week" }) }, t("week")),
      state.role === "practitioner" ? null : h("select", { "aria-label": t("practitioner"), id: "agenda-practitioner",
        onchange: (e) => go({ p: e.target.value }) }, h("option", { value: "" }, t("all")),
        catalog.practitioners.map((p) => h("option", { value: p.id, selected: p.id === practitioner }, practitionerName(p.id)))));
    const status = h("div", { id: "agenda-status" });
    if (flash) { fill(status, notice(flash, "good")); flash = null; }
    const days = [];
    for (let d = from; d <= to; d = addDays(d, 1)) days.push(d);
    const list = days.map((d) => {
      const items = appointments.map((a, i) => [a, names[i]]).filter(([a]) => localDate(new Date(a.starts_at)) === d);
      return h("section", { class: "day" }, h("h2", {}, dayLabel(d + "T12:00:00Z")), items.length
        ? h("ul", { class: "list" }, items.map(([a, name]) => appointmentRow(a, name, status)))
        : h("p", { class: "muted" }, t("nothing")));
    });
    fill(content, toolbar, status, ...list, state.role === "practitioner" ? null : bookForm(date, practitioner, status));
  } catch (e) { if (e.status !== 401) fail(content, e); }
}

// After a change, show the page again (with `message`), unless the user has
// moved on meanwhile: their new page must not be redrawn under their typing.
function reload(at, message) {
  if (location.hash !== at) return;
  flash = message;
  route();
}

function appointmentRow(a, name, status) {
  const act = async (path, payload, done) => {
    const at = location.hash;
    try { await api("POST", `/clinics/${state.clinic}/appointments/${a.id}/${path}`, payload); reload(at, done); }
    catch (e) { fill(status, notice(e.message, "bad")); }
  };
  const mover = h("div", { class: "mover" });
  const booked = a.status === "booked";
  return h("li", { class: "appointment " + a.status, "data-id": a.id },
    h("div", {}, h("strong", {}, `${time(a.starts_at)}–${time(a.ends_at)}`), " ", name ? h("span", { class: "patient" }, name) : null,
      h("div", { class: "muted" }, `${serviceName(a.service_id)} · ${practitionerName(a.practitioner_id)} · ${t("statuses")[a.status] || a.status}`)),
    booked ? h("div", { class: "row" },
      h("button", { type: "button", class: "move", onclick: () => slotPicker(mover, a.service_id, a.practitioner_id, localDate(new Date(a.starts_at)),
        (slot) => act("move", { starts_at: slot.starts_at, practitioner_id: slot.practitioner_id }, t("moved"))) }, t("move")),
      h("button", { type: "button", class: "cancel", onclick: () => { if (confirm(t("confirmCancel"))) act("cancel", undefined, t("cancelled")); } }, t("cancel")),
      h("button", { type: "button", class: "attended", onclick: () => act("status", { status: "attended" }, t("marked")) }, t("attended")),
      h("button", { type: "button", class: "no-show", onclick: () => act("status", { status: "no_show" }, t("marked")) }, t("noShow"))) : null,
    mover);
}

// Free slots from the engine for a service (and practitioner) on a day.
async function slotPicker(container, serviceId, practitionerId, date, choose) {
  const dateInput = h("input", { type: "date", value: date, "aria-label": t("date") });
  const slots = h("div", { class: "slots" });
  const load = async () => {
    try {
      const q = `service_id=${serviceId}&from=${dateInput.value}&to=${dateInput.value}` + (practitionerId ? `&practitioner_id=${practitionerId}` : "");
      const found = await api("GET", `/clinics/${state.clinic}/slots?${q}`);
      fill(slots, ...(found.length ? found.map((s) => h("button", { type: "button", class: "slot", "data-start": s.starts_at,
        onclick: () => choose(s) }, `${time(s.starts_at)} · ${practitionerName(s.practitioner_id)}`)) : [notice(t("noSlots"))]));
    } catch (e) { fail(slots, e); }
  };
  dateInput.addEventListener("change", load);
  fill(container, h("h3", {}, t("chooseSlot")), dateInput, slots);
  await load();
}

function bookForm(date, practitioner, status) {
  const service = h("select", { id: "book-service", "aria-label": t("service") },
    catalog.services.map((s) => h("option", { value: s.id }, serviceName(s.id))));
  const search = h("input", { type: "search", id: "book-patient-search", placeholder: t("search"), "aria-label": t("patient") });
  const matches = h("div", { class: "matches" });
  const picker = h("div", { id: "book-slots" });
  let chosen = null;
  const findPatients = async () => {
    try {
      const page = await api("GET", `/clinics/${state.clinic}/patients?q=${encodeURIComponent(search.value)}&limit=10`);
      fill(matches, ...page.items.map((p) => h("button", { type: "button", class: "patient-choice" + (chosen === p.id ? " on" : ""),
        onclick: () => { chosen = p.id; findPatients(); showSlots(); } }, `${p.first_name} ${p.last_name}`)));
    } catch (e) { fail(matches, e); }
  };
  const showSlots = () => slotPicker(picker, service.value, practitioner, date, async (slot) => {
    const at = location.hash;
    try {
      await api("POST", `/clinics/${state.clinic}/appointments`, { practitioner_id: slot.practitioner_id, service_id: service.value,
        patient_id: chosen, starts_at: slot.starts_at });
      reload(at, t("booked"));
    } catch (e) { fill(status, notice(e.message, "bad")); }
  });
  search.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); findPatients(); } });
  service.addEventListener("change", () => { if (chosen) showSlots(); });
  return h("section", { class: "card", id: "book" }, h("h2", {}, t("book")), h("label", {}, t("service")), service,
    h("label", {}, t("patient")), h("div", { class: "row" }, search, h("button", { type: "button", onclick: findPatients }, t("search"))),
    matches, picker);
}

// ---- patients: search, open, correct, phones, erase
async function patients(params) {
  const q = params.get("q") || "";
  const input = h("input", { type: "search", value: q, id: "patient-search", "aria-label": t("search") });
  const results = h("div");
  const first = h("input", { "aria-label": t("firstName"), placeholder: t("firstName"), required: true });
  const last = h("input", { "aria-label": t("lastName"), placeholder: t("lastName"), required: true });
  const status = h("div");
  shell("patients", [h("h1", {}, t("patients")),
    h("form", { class: "row", onsubmit: (e) => { e.preventDefault(); location.hash = `#/${state.clinic}/patients?q=${encodeURIComponent(input.value)}`; } },
      input, h("button", { type: "submit" }, t("search"))), results,
    h("form", { class: "card", onsubmit: async (e) => {
      e.preventDefault();
      try {
        const p = await api("POST", `/clinics/${state.clinic}/patients`, { first_name: first.value, last_name: last.value });
        location.hash = `#/${state.clinic}/p/${p.id}`;
      } catch (err) { fill(status, notice(err.message, "bad")); }
    } }, h("h2", {}, t("newPatient")), first, last, h("button", { type: "submit" }, t("create")), status)]);
  try {
    const page = await api("GET", `/clinics/${state.clinic}/patients?q=${encodeURIComponent(q)}&limit=50`);
    fill(results, page.items.length ? h("ul", { class: "list" }, page.items.map((p) =>
      h("li", {}, h("a", { href: `#/${state.clinic}/p/${p.id}` }, `${p.first_name} ${p.last_name}`),
        h("span", { class: "muted" }, ` ${p.phones.join(", ")}`)))) : notice(t("nothing")));
  } catch (e) { fail(results, e); }
}

async function patient(id) {
  const content = h("div");
  shell("patients", [h("a", { href: `#/${state.clinic}/patients` }, t("back")), content]);
  try {
    const p = await api("GET", `/clinics/${state.clinic}/patients/${id}`);
    await loadCatalog();
    const status = h("div");
    const first = h("input", { value: p.first_name, "aria-label": t("firstName") });
    const last = h("input", { value: p.last_name, "aria-label": t("lastName") });
    const birth = h("input", { type: "date", value: p.birth_date || "", "aria-label": t("birthDate") });
    const phone = h("input", { type: "tel", placeholder: "+243…", "aria-label": t("addPhone") });
    const save = async (e) => {
      e.preventDefault();
      try {
        await api("PATCH", `/clinics/${state.clinic}/patients/${id}`, { first_name: first.value, last_name: last.value, birth_date: birth.value || null });
        fill(status, notice(t("saved"), "good"));
      } catch (err) { fill(status, notice(err.message, "bad")); }
    };
    fill(content, h("h1", {}, `${p.first_name} ${p.last_name}`), status,
      h("form", { class: "card", onsubmit: save }, h("label", {}, t("firstName")), first, h("label", {}, t("lastName")), last,
        h("label", {}, t("birthDate")), birth, h("button", { type: "submit" }, t("save"))),
      h("section", { class: "card" }, h("h2", {}, t("phones")), h("ul", {}, p.phones.map((n) => h("li", {}, n, " ",
        h("button", { type: "button", class: "link", onclick: async () => {
          const at = location.hash;
          try { await api("DELETE", `/clinics/${state.clinic}/patients/${id}/phones/${encodeURIComponent(n)}`); reload(at, null); }
          catch (err) { fill(status, notice(err.message, "bad")); }
        } }, t("remove"))))),
        h("form", { class: "row", onsubmit: async (e) => {
          e.preventDefault();
          const at = location.hash;
          try { await api("POST", `/clinics/${state.clinic}/patients/${id}/phones`, { phone: phone.value }); reload(at, null); }
          catch (err) { fill(status, notice(err.message, "bad")); }
        } }, phone, h("button", { type: "submit" }, t("addPhone")))),
      h("section", { class: "card" }, h("h2", {}, t("appointments")), p.appointments.length ? h("ul", {}, p.appointments.map((a) =>
        h("li", {}, `${dayLabel(a.starts_at)} ${time(a.starts_at)} · ${serviceName(a.service_id)} · ${practitionerName(a.practitioner_id)} · ${t("statuses")[a.status] || a.status}`)))
        : h("p", { class: "muted" }, t("none"))),
      state.role === "clinic_admin" ? h("button", { type: "button", class: "danger", id: "erase", onclick: async () => {
        if (!confirm(t("eraseConfirm"))) return;
        try { await api("DELETE", `/clinics/${state.clinic}/patients/${id}`); location.hash = `#/${state.clinic}/patients`; }
        catch (err) { fill(status, notice(err.message, "bad")); }
      } }, t("erase")) : null);
  } catch (e) { fail(content, e); }
}

// ---- settings (clinic admins): the clinic, its answers, windows, exceptions, holidays
async function settings() {
  const content = h("div", { id: "settings" });
  shell("settings", [h("h1", {}, t("settings")), content]);
  const c = state.clinic;
  const status = h("div", { id: "settings-status" });
  if (flash) { fill(status, notice(flash, "good")); flash = null; }
  const change = (method, path, body) => async (e) => {
    if (e) e.preventDefault();
    const at = location.hash;
    try { await api(method, `/clinics/${c}${path}`, typeof body === "function" ? body() : body); reload(at, t("saved")); }
    catch (err) { fill(status, notice(err.message, "bad")); window.scrollTo(0, 0); }
  };
  try {
    const [clinic, windows, exceptions, holidays] = await Promise.all([api("GET", `/clinics/${c}`), api("GET", `/clinics/${c}/windows`),
      api("GET", `/clinics/${c}/exceptions`), api("GET", `/clinics/${c}/holidays`)]);
    await loadCatalog();
    const weekday = (n) => t("weekdays")[Number(n) - 1] ?? n;
    const hm = (m) => `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;
    const minutes = (v) => { const [hh, mm] = v.split(":").map(Number); return hh * 60 + mm; };
    const field = (key, label, type) => {
      const input = type === "area" ? h("textarea", { name: key, rows: 2 }) : h("input", { name: key, type: type || "text" });
      input.value = clinic[key] ?? "";
      return [h("label", {}, label), input];
    };
    const clinicForm = h("form", { class: "card", id: "clinic-form" }, h("h2", {}, t("clinic")),
      field("name", t("name")), field("address", t("address")), field("phone", t("phone")),
      field("emergency_number", t("emergencyNumber")), field("opening_hours_fr", `${t("hours")} (FR)`, "area"),
      field("opening_hours_en", `${t("hours")} (EN)`, "area"), field("min_notice_minutes", t("minNotice"), "number"),
      field("booking_horizon_days", t("horizon"), "number"),
      h("p", { class: "muted" }, `${t("timezone")}: ${clinic.timezone}`), h("button", { type: "submit" }, t("save")));
    clinicForm.addEventListener("submit", change("PATCH", "", () => {
      const v = (k) => clinicForm.elements[k].value;
      const body = { name: v("name"), address: v("address"), emergency_number: v("emergency_number"),
        opening_hours_fr: v("opening_hours_fr"), opening_hours_en: v("opening_hours_en"),
        min_notice_minutes: Number(v("min_notice_minutes")), booking_horizon_days: Number(v("booking_horizon_days")) };
      if (v("phone")) body.phone = v("phone");
      return body;
    }));
    const answers = clinic.answers.map((a) => ({ ...a }));
    const answersForm = h("form", { class: "card", id: "answers-form" }, h("h2", {}, t("answers")),
      answers.map((a, i) => [h("h3", {}, a.topic),
        h("textarea", { rows: 2, "aria-label": `${a.topic} FR`, "data-i": i, "data-lang": "fr" }, a.fr),
        h("textarea", { rows: 2, "aria-label": `${a.topic} EN`, "data-i": i, "data-lang": "en" }, a.en)]),
      answers.length ? h("button", { type: "submit" }, t("save")) : h("p", { class: "muted" }, t("none")));
    answersForm.addEventListener("submit", change("PATCH", "", () => {
      for (const area of answersForm.querySelectorAll("textarea")) answers[Number(area.dataset.i)][area.dataset.lang] = area.value;
      return { answers };
    }));
    const practitionerSelect = (id, withAll) => h("select", { id, "aria-label": t("practitioner") },
      withAll ? h("option", { value: "" }, t("all")) : null,
      catalog.practitioners.map((p) => h("option", { value: p.id }, practitionerName(p.id))));
    const wPractitioner = practitionerSelect("window-practitioner", false);
    const wDay = h("select", { id: "window-weekday", "aria-label": t("date") }, t("weekdays").map((d, i) => h("option", { value: i + 1 }, d)));
    const wStart = h("input", { type: "time", id: "window-start", value: "08:00", "aria-label": t("from") });
    const wEnd = h("input", { type: "time", id: "window-end", value: "12:00", "aria-label": t("to") });
    const xPractitioner = practitionerSelect("exception-practitioner", true);
    const xKind = h("select", { id: "exception-kind", "aria-label": t("reason") },
      ["leave", "training", "emergency", "busy"].map((k) => h("option", { value: k }, t("kinds")[k])));
    const xFirst = h("input", { type: "date", id: "exception-first", required: true, "aria-label": t("from") });
    const xLast = h("input", { type: "date", id: "exception-last", required: true, "aria-label": t("to") });
    const xReason = h("input", { id: "exception-reason", placeholder: t("reason"), "aria-label": t("reason") });
    const hDate = h("input", { type: "date", id: "holiday-date", required: true, "aria-label": t("date") });
    const hName = h("input", { id: "holiday-name", placeholder: t("name"), "aria-label": t("name") });
    const describe = (x) => {
      const when = x.time.recurrence === "days" ? `${x.time.first} – ${x.time.last}`
        : x.time.recurrence === "once" ? `${stamp(x.time.starts_at)} – ${stamp(x.time.ends_at)}`
          : `${weekday(x.time.weekday)} ${hm(x.time.start_minute)}–${hm(x.time.end_minute)}`;
      return `${x.practitioner_id ? practitionerName(x.practitioner_id) : t("all")} · ${t("kinds")[x.kind] || x.kind} · ${when} ${x.reason || ""}`;
    };
    fill(content, status, clinicForm, answersForm,
      h("section", { class: "card" }, h("h2", {}, t("practitioners")), h("ul", {}, catalog.practitioners.map((p) =>
        h("li", {}, practitionerName(p.id), p.active ? "" : ` (${t("inactive")})`)))),
      h("section", { class: "card" }, h("h2", {}, t("services")), h("ul", {}, catalog.services.map((s) =>
        h("li", {}, `${serviceName(s.id)} · ${s.duration_minutes} ${t("min")}`)))),
      h("section", { class: "card", id: "windows" }, h("h2", {}, t("windows")), h("ul", {}, windows.map((w) =>
        h("li", {}, `${practitionerName(w.practitioner_id)} · ${weekday(w.weekday)} ${hm(w.start_minute)}–${hm(w.end_minute)} `,
          h("button", { type: "button", class: "link", onclick: change("DELETE", `/windows/${w.id}`) }, t("remove"))))),
        h("form", { class: "row", onsubmit: change("POST", "/windows", () => ({ practitioner_id: wPractitioner.value,
          weekday: Number(wDay.value), start_minute: minutes(wStart.value), end_minute: minutes(wEnd.value) })) },
        wPractitioner, wDay, wStart, wEnd, h("button", { type: "submit" }, t("add")))),
      h("section", { class: "card", id: "exceptions" }, h("h2", {}, t("exceptions")), h("ul", {}, exceptions.map((x) =>
        h("li", {}, describe(x), " ", h("button", { type: "button", class: "link", onclick: change("DELETE", `/exceptions/${x.id}`) }, t("remove"))))),
        h("form", { class: "row", onsubmit: change("POST", "/exceptions", () => ({ practitioner_id: xPractitioner.value || null,
          kind: xKind.value, reason: xReason.value, time: { recurrence: "days", first: xFirst.value, last: xLast.value } })) },
        xPractitioner, xKind, xFirst, xLast, xReason, h("button", { type: "submit", id: "exception-add" }, t("add")))),
      h("section", { class: "card", id: "holidays" }, h("h2", {}, t("holidays")), h("ul", {}, holidays.map((x) =>
        h("li", {}, `${x.date} ${x.name || ""} `, h("button", { type: "button", class: "link",
          onclick: change("PUT", "/holidays", holidays.filter((y) => y.date !== x.date)) }, t("remove"))))),
        h("form", { class: "row", onsubmit: change("PUT", "/holidays", () => [...holidays, { date: hDate.value, name: hName.value }]) },
          hDate, hName, h("button", { type: "submit", id: "holiday-add" }, t("add")))));
  } catch (e) { fail(content, e); }
}

// ---- routing: #/{clinic}/{page}[/{id}][?query]
async function route() {
  clearInterval(state.poll);
  const mine = ++state.page;
  if (!session.me) return;
  const [path, query] = location.hash.replace(/^#\/?/, "").split("?");
  const params = new URLSearchParams(query || "");
  const [clinic, page, id] = path.split("/");
  const fallback = session.clinics[0]?.id;
  if (!clinic || !fallback) { if (fallback) location.hash = `#/${fallback}/${roleIn(fallback) === "practitioner" ? "agenda" : "inbox"}`; else shell("", notice(t("notFound"), "bad")); return; }
  if (clinic !== state.clinic) {
    state.clinic = clinic;
    state.clinicInfo = null;
    patientNames.clear();
    try { state.clinicInfo = await api("GET", `/clinics/${clinic}`); zone = state.clinicInfo.timezone || "UTC"; }
    catch (e) { state.role = null; shell("", notice(e.status === 404 ? t("notFound") : e.message, "bad")); state.clinic = null; return; }
    if (mine !== state.page) return; // left while the clinic was loading
  }
  state.role = roleIn(clinic);
  state.practitionerId = session.me.memberships.find((m) => m.clinic_id === clinic)?.practitioner_id || null;
  if (page === "c" && id) return conversation(id);
  if (page === "agenda") return agenda(params);
  if (page === "patients") return patients(params);
  if (page === "p" && id) return patient(id);
  if (page === "settings") return settings();
  if (state.role === "practitioner") { location.hash = `#/${clinic}/agenda`; return; }
  return inbox(params);
}

async function boot() {
  try {
    session.me = await api("GET", "/me");
    session.offset = Date.parse(session.me.now) - Date.now();
    session.clinics = await api("GET", "/clinics");
    state.clinic = null;
    await route();
  } catch (e) { if (e.status !== 401) fill(app, notice(e.message, "bad")); }
}

window.addEventListener("hashchange", route);
document.documentElement.lang = lang;
refresh().then((ok) => (ok ? boot() : showLogin()));
