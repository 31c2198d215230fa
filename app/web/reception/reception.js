// The lab desk's reception page: sign in with a lab token, find a prescription by its EPU code
// (hand scanner, typed code, photo or webcam), claim it and mark its exams.
// Data only ever reaches the page through textContent: nothing the API says is parsed as HTML.
"use strict";

(function () {
  // ---- The EPU code (a port of app/domain/epu_id.py) -------------------------------------
  const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  const LENGTH = 18;
  const EPU_SYSTEM = "urn:oid:1.2.250.1.215.500.1.1";
  const FOLD = { O: "0", I: "1", L: "1" };

  function checkCharacter(payload) {
    const n = ALPHABET.length;
    let factor = 2;
    let total = 0;
    for (let i = payload.length - 1; i >= 0; i--) {
      const addend = factor * ALPHABET.indexOf(payload[i]);
      factor = factor === 2 ? 1 : 2;
      total += Math.floor(addend / n) + (addend % n);
    }
    return ALPHABET[(n - (total % n)) % n];
  }

  // What a person typed, case-folded, separators dropped, O/I/L read as 0/1/1.
  function folded(text) {
    return Array.from(text.toUpperCase())
      .filter((c) => c !== "-" && !/\s/.test(c))
      .map((c) => FOLD[c] || c)
      .join("");
  }

  function grouped(code) {
    return (code.match(/.{1,4}/g) || []).join("-");
  }

  // {ok, code} or {ok: false, text}: the live verdict on a typed code.
  function judge(code) {
    const bad = Array.from(code).find((c) => !ALPHABET.includes(c));
    if (bad) {
      return { ok: false, text: `Caractère non valide : « ${bad} » (un code EPU n'utilise que des chiffres et des lettres, sans U)` };
    }
    if (code.length < LENGTH) {
      return { ok: false, partial: true, text: `Code incomplet : ${code.length} caractère${code.length > 1 ? "s" : ""} sur ${LENGTH}` };
    }
    if (code.length > LENGTH) {
      return { ok: false, text: `Code trop long : ${code.length} caractères au lieu de ${LENGTH}` };
    }
    if (checkCharacter(code.slice(0, -1)) !== code[LENGTH - 1]) {
      return { ok: false, text: "Caractère de contrôle incorrect : code probablement mal saisi. Relisez-le sur l'ordonnance." };
    }
    return { ok: true, code };
  }

  // A hand scanner types the QR's content, `EPU:` + the code; a person types the code alone.
  function looksScanned(raw) {
    const upper = raw.trim().toUpperCase();
    return upper.length > 0 && (upper.startsWith("EPU") || "EPU".startsWith(upper));
  }

  // ---- Session ------------------------------------------------------------------------------
  const TOKEN_KEY = "epu.reception.token";

  function tokenClaims(token) {
    const part = token.split(".")[1];
    if (!part) return null;
    try {
      const base64 = part.replace(/-/g, "+").replace(/_/g, "/");
      const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      return JSON.parse(new TextDecoder().decode(bytes));
    } catch (e) {
      return null;
    }
  }

  function token() {
    return sessionStorage.getItem(TOKEN_KEY);
  }

  function myLab() {
    const claims = tokenClaims(token() || "");
    return claims ? claims.lab : null;
  }

  // ---- Page elements ------------------------------------------------------------------------
  const $ = (id) => document.getElementById(id);
  const el = {
    session: $("session"), sessionLab: $("session-lab"), signOut: $("sign-out"),
    signIn: $("sign-in"), signInForm: $("sign-in-form"), tokenInput: $("token"),
    signInMessage: $("sign-in-message"), desk: $("desk"),
    scanForm: $("scan-form"), code: $("code"), hint: $("code-hint"), photo: $("photo"),
    cameraOpen: $("camera-open"), camera: $("camera"), video: $("camera-video"),
    cameraShoot: $("camera-shoot"), cameraClose: $("camera-close"),
    message: $("message"), rx: $("prescription"), rxCode: $("rx-code"), rxStatus: $("rx-status"),
    claim: $("claim"), release: $("release"), facts: $("rx-facts"), lines: $("lines"),
  };

  function make(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function say(text, kind) {
    el.message.textContent = text || "";
    el.message.className = `message ${kind || "error"}`;
    el.message.hidden = !text;
  }

  function showSignedIn() {
    const claims = tokenClaims(token() || "") || {};
    const until = claims.exp ? new Date(claims.exp * 1000) : null;
    el.sessionLab.textContent = `Laboratoire ${claims.lab || "?"}` +
      (until ? ` · jusqu'à ${until.toLocaleTimeString("fr-FR", { hour: "2-digit", minute: "2-digit" })}` : "");
    el.session.hidden = false;
    el.signIn.hidden = true;
    el.desk.hidden = false;
    el.cameraOpen.hidden = !(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
    focusScan();
  }

  function signOut(why) {
    sessionStorage.removeItem(TOKEN_KEY);
    closeCamera();
    state.bundle = null;
    el.rx.hidden = true;
    el.code.value = "";
    say("");
    el.session.hidden = true;
    el.desk.hidden = true;
    el.signIn.hidden = false;
    el.tokenInput.value = "";
    el.signInMessage.textContent = why || "";
    el.signInMessage.hidden = !why;
    el.tokenInput.focus();
  }

  function signIn(event) {
    event.preventDefault();
    const pasted = el.tokenInput.value.trim().replace(/^Bearer\s+/i, "");
    const claims = tokenClaims(pasted);
    let problem = null;
    if (!claims) problem = "Ce texte n'est pas un jeton : collez-le en entier.";
    else if (claims.role !== "lab" || !claims.lab) problem = "Ce jeton n'est pas celui d'un laboratoire.";
    else if (claims.exp && claims.exp * 1000 < Date.now()) problem = "Ce jeton a expiré : demandez-en un nouveau.";
    if (problem) {
      el.signInMessage.textContent = problem;
      el.signInMessage.hidden = false;
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, pasted);
    el.tokenInput.value = "";
    el.signInMessage.hidden = true;
    showSignedIn();
  }

  // ---- Talking to the gateway -----------------------------------------------------------------
  class Refusal extends Error {
    constructor(status, code, text, retryAfter) {
      super(text);
      this.status = status;
      this.code = code;
      this.retryAfter = retryAfter;
    }
  }

  async function call(method, path, body, headers) {
    let response;
    try {
      response = await fetch(path, {
        method,
        body,
        cache: "no-store",
        credentials: "omit",
        headers: { Accept: "application/fhir+json", Authorization: `Bearer ${token()}`, ...(headers || {}) },
      });
    } catch (e) {
      throw new Refusal(0, "OFFLINE", "");
    }
    let payload = null;
    try {
      payload = await response.json();
    } catch (e) {
      payload = null;
    }
    if (response.ok) return payload;
    const issue = payload && payload.resourceType === "OperationOutcome" && payload.issue ? payload.issue[0] : null;
    const coding = issue && issue.details && issue.details.coding ? issue.details.coding[0] : null;
    throw new Refusal(response.status, coding ? coding.code : "", issue ? issue.diagnostics || "" : "",
      response.headers.get("Retry-After"));
  }

  const SEARCH_TAIL = "&_include=ServiceRequest:requester&_include=ServiceRequest:subject&_revinclude=Task:focus";

  function pull(code) {
    const requisition = encodeURIComponent(`${EPU_SYSTEM}|${code}`);
    return call("GET", `/fhir/ServiceRequest?requisition=${requisition}${SEARCH_TAIL}`);
  }

  function scan(body, type) {
    return call("POST", "/fhir/$scan", body, type ? { "Content-Type": type } : {});
  }

  function operation(name, code) {
    const parameters = {
      resourceType: "Parameters",
      parameter: [{ name: "epu", valueIdentifier: { system: EPU_SYSTEM, value: code } }],
    };
    return call("POST", `/fhir/Task/$${name}`, JSON.stringify(parameters),
      { "Content-Type": "application/fhir+json" });
  }

  // What to tell the receptionist about a refusal, in her words.
  function explain(refusal) {
    if (refusal.status === 0) {
      return "La passerelle ne répond pas (réseau coupé ?). Gardez l'ordonnance papier et réessayez dans un moment.";
    }
    if (refusal.status === 429) {
      const seconds = parseInt(refusal.retryAfter || "60", 10) || 60;
      return `Trop d'essais, réessayez dans ${Math.max(1, Math.ceil(seconds / 60))} min.`;
    }
    const byCode = {
      EPU_MALFORMED: "Code mal formé : un code EPU a 18 caractères (chiffres et lettres). Relisez-le sur l'ordonnance.",
      EPU_CHECK_MISMATCH: "Caractère de contrôle incorrect : code probablement mal saisi. Relisez-le sur l'ordonnance.",
      EPU_UNKNOWN: "Aucune ordonnance ne correspond à ce code. Vérifiez le code sur le papier.",
      EPU_CANCELLED: "Ordonnance annulée par le prescripteur : ne pas réaliser les examens.",
      EPU_EXPIRED: "Ordonnance expirée : elle n'est plus valable. Le patient doit revoir son médecin.",
      EPU_COMPLETED: "Tous les examens de cette ordonnance ont déjà été réalisés.",
      LOCKED_BY_OTHER_LAB: "Examens déjà pris en charge par un autre laboratoire : l'ordonnance ne pourra être prise ici que lorsque ce laboratoire l'aura rendue.",
      NOT_LOCK_HOLDER: "Prenez d'abord l'ordonnance en charge (ou elle est tenue par un autre laboratoire).",
      VERSION_CONFLICT: "Cet examen a été modifié entre-temps, sans doute depuis un autre poste. L'ordonnance a été rechargée : vérifiez puis recommencez.",
      QR_NOT_FOUND: "Aucun QR code lisible sur la photo. Cadrez le QR code bien à plat, net et sans reflet, ou tapez le code imprimé dessous.",
      QR_AMBIGUOUS: "La photo contient plusieurs QR codes : photographiez une seule ordonnance.",
      QR_NOT_OURS: "Ce QR code n'est pas celui d'une ordonnance EPU.",
      IMAGE_UNREADABLE: "Fichier illisible : envoyez une photo PNG ou JPEG.",
      INVALID_TRANSITION: "Ce changement n'est pas possible dans l'état actuel de l'examen.",
    };
    if (byCode[refusal.code]) return byCode[refusal.code];
    if (refusal.status === 401) return null;
    if (refusal.status === 403) return "Ce jeton ne permet pas cette opération (jeton de laboratoire requis).";
    if (refusal.status === 413) return "Photo trop lourde : 10 Mo au plus. Reprenez-la en plus petit.";
    if (refusal.status === 415) return "Type de fichier non accepté : envoyez une photo PNG ou JPEG.";
    return `La passerelle a refusé (erreur ${refusal.status}${refusal.code ? ", " + refusal.code : ""}). ${refusal.message}`;
  }

  function complain(refusal) {
    if (!(refusal instanceof Refusal)) throw refusal;
    if (refusal.status === 401) {
      signOut("Session expirée ou jeton refusé : collez un nouveau jeton.");
      return;
    }
    say(explain(refusal), "error");
  }

  // ---- The prescription on screen -----------------------------------------------------------
  const state = { bundle: null, code: null, busy: false };

  const GROUP_STATUS = {
    requested: "À prendre en charge",
    accepted: "Prise en charge",
    "in-progress": "En cours",
    completed: "Terminée : tous les examens sont faits",
    cancelled: "Annulée par le prescripteur",
    rejected: "Refusée",
  };
  const LINE_STATUS = {
    requested: "",  // the group's state and its button say it once, not on every line
    accepted: "À prélever",
    "in-progress": "Prélevé",
    completed: "Fait",
    cancelled: "Annulé",
    rejected: "Refusé",
  };
  const PRIORITY = { urgent: "URGENT", asap: "TRÈS URGENT", stat: "URGENCE VITALE (STAT)" };
  const FLAGS = {
    "https://epu-gateway/fhir/StructureDefinition/epu-ald": "ALD",
    "https://epu-gateway/fhir/StructureDefinition/epu-atmp": "AT/MP",
    "https://epu-gateway/fhir/StructureDefinition/epu-prevention": "Prévention",
    "https://epu-gateway/fhir/StructureDefinition/epu-non-reimbursable": "Non remboursable",
    "https://epu-gateway/fhir/StructureDefinition/epu-out-of-nomenclature": "Hors nomenclature",
  };
  const MONTHS = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
    "septembre", "octobre", "novembre", "décembre"];
  const PERIOD_UNITS = { d: "jours", wk: "semaines", mo: "mois", a: "ans" };
  const EVERY_ONE = { d: "tous les jours", wk: "toutes les semaines", mo: "tous les mois", a: "tous les ans" };

  function everyText(repeat) {
    if (!repeat.period || !PERIOD_UNITS[repeat.periodUnit]) return "";
    if (repeat.period === 1) return `, ${EVERY_ONE[repeat.periodUnit]}`;
    const all = repeat.periodUnit === "wk" ? "toutes les" : "tous les";
    return `, ${all} ${repeat.period} ${PERIOD_UNITS[repeat.periodUnit]}`;
  }

  function resources(bundle) {
    return (bundle.entry || []).map((entry) => entry.resource).filter(Boolean);
  }

  function byReference(bundle) {
    const found = new Map();
    for (const r of resources(bundle)) found.set(`${r.resourceType}/${r.id}`, r);
    return found;
  }

  function tasksOf(bundle) {
    const tasks = resources(bundle).filter((r) => r.resourceType === "Task");
    return {
      group: tasks.find((t) => !t.focus) || null,
      byFocus: new Map(tasks.filter((t) => t.focus).map((t) => [t.focus.reference, t])),
    };
  }

  function ownerOf(task) {
    return task && task.owner && task.owner.identifier ? task.owner.identifier.value : null;
  }

  function roundOf(task) {
    const input = (task && task.input || []).find((i) => (i.type && i.type.coding || []).some((c) => c.code === "round"));
    return input ? input.valueUnsignedInt || input.valuePositiveInt || input.valueInteger : null;
  }

  function conceptText(concept) {
    if (!concept) return "";
    const coding = (concept.coding || []).find((c) => c.display) || {};
    return concept.text || coding.display || ((concept.coding || [])[0] || {}).code || "";
  }

  function frenchDate(text) {
    const match = /^(\d{4})-(\d{2})(?:-(\d{2}))?/.exec(text || "");
    if (!match) return text || "";
    return match[3] ? `${match[3]}/${match[2]}/${match[1]}` : `${MONTHS[parseInt(match[2], 10) - 1]} ${match[1]}`;
  }

  function valueText(resource) {
    if (resource.valueQuantity) {
      const q = resource.valueQuantity;
      return `${q.value}${q.unit ? " " + q.unit : ""}`;
    }
    if (resource.valueDateTime) return frenchDate(resource.valueDateTime);
    if (resource.valueString) return resource.valueString;
    if (resource.valueCodeableConcept) return conceptText(resource.valueCodeableConcept);
    if (typeof resource.valueBoolean === "boolean") return resource.valueBoolean ? "oui" : "non";
    if (typeof resource.valueInteger === "number") return String(resource.valueInteger);
    return "";
  }

  function contextText(resource) {
    const label = conceptText(resource.code);
    if (resource.resourceType === "Condition") return label;
    const value = valueText(resource);
    return value ? `${label} : ${value}` : label;
  }

  function personName(practitioner) {
    const name = (practitioner.name || [])[0];
    if (!name) return "";
    if (name.text) return name.text;
    return [...(name.prefix || []), ...(name.given || []), name.family || ""].join(" ").trim();
  }

  function prescriberOf(bundle, request, refs) {
    let practitioner = refs.get(request.requester && request.requester.reference);
    let role = null;
    if (practitioner && practitioner.resourceType === "PractitionerRole") {
      role = practitioner;
      practitioner = refs.get(role.practitioner && role.practitioner.reference);
    }
    const phones = [...((practitioner || {}).telecom || []), ...((role || {}).telecom || [])]
      .filter((t) => t.system === "phone" && t.value);
    const organization = role && refs.get(role.organization && role.organization.reference);
    return {
      name: practitioner ? personName(practitioner) : "",
      phone: phones.length ? phones[0].value : "",
      place: organization ? organization.name || "" : "",
    };
  }

  function patientText(patient) {
    if (!patient) return "Non précisé";
    const female = patient.gender === "female";
    const sex = { female: "Femme", male: "Homme", other: "Autre", unknown: "Sexe inconnu" }[patient.gender] || "Sexe non précisé";
    const born = patient.birthDate ? `${female ? "née" : "né"} en ${frenchDate(patient.birthDate.slice(0, 7))}` : "date de naissance non précisée";
    return `${sex}, ${born}`;
  }

  function addFact(term, value, className) {
    if (!value) return;
    const dt = make("dt", null, term);
    const dd = make("dd", className || null, value);
    el.facts.append(dt, dd);
  }

  function render() {
    const bundle = state.bundle;
    const refs = byReference(bundle);
    const requests = resources(bundle).filter((r) => r.resourceType === "ServiceRequest");
    const { group, byFocus } = tasksOf(bundle);
    const owner = ownerOf(group);
    const mine = owner !== null && owner === myLab();
    const status = group ? group.status : "requested";

    el.rxCode.textContent = grouped(state.code);
    el.rxStatus.textContent = `État : ${groupStatusText(status, owner, mine, requests, byFocus)}`;
    el.rxStatus.className = `status status-${status}`;
    if (owner && !mine && status !== "cancelled") {
      say(`Examens déjà pris en charge par un autre laboratoire (n° ${owner}) : ne pas les réaliser ici tant que ce laboratoire n'a pas rendu l'ordonnance.`, "error");
    } else if (status === "cancelled") {
      say("Ordonnance annulée par le prescripteur : ne pas réaliser les examens.", "error");
    } else if (status === "completed") {
      say("Tous les examens de cette ordonnance ont déjà été réalisés.", "info");
    }
    el.claim.hidden = !(status === "requested" && !owner);
    el.release.hidden = !(mine && status === "accepted");

    el.facts.replaceChildren();
    const first = requests[0] || {};
    const patient = refs.get(first.subject && first.subject.reference);
    // Two facts a row: who and when, then whom to call back.
    addFact("Patient", patientText(patient));
    addFact("Prescrite le", first.authoredOn ? frenchDate(first.authoredOn) : "Non précisé");
    const prescriber = prescriberOf(bundle, first, refs);
    addFact("Prescripteur", [prescriber.name, prescriber.place].filter(Boolean).join(", ") || "Non précisé");
    addFact("Téléphone", prescriber.phone || "Non renseigné", "phone");
    const repeat = requests.map((r) => r.occurrenceTiming && r.occurrenceTiming.repeat).find((r) => r && r.count > 1);
    if (repeat) {
      const round = roundOf(group) || 1;
      addFact("Renouvellement", `Passage ${round} sur ${repeat.count}${everyText(repeat)}`, "renewal");
    }
    const urgent = requests.filter((r) => PRIORITY[r.priority]).length;
    if (urgent) {
      addFact("Urgence", `${urgent} examen${urgent > 1 ? "s" : ""} urgent${urgent > 1 ? "s" : ""} : à traiter en priorité`, "urgent-fact");
    }
    if (requests.some((r) => flagsOf(r).includes("ALD"))) {
      addFact("ALD", "Oui : examens marqués ALD (affection de longue durée)", "ald");
    }

    el.lines.replaceChildren(...requests.map((request) => lineItem(request, byFocus.get(`ServiceRequest/${request.id}`), refs, mine)));
    el.rx.hidden = false;
  }

  function groupStatusText(status, owner, mine, requests, byFocus) {
    const held = ["accepted", "in-progress"].includes(status) && owner;
    if (!held) return GROUP_STATUS[status] || status;
    const by = mine ? "votre laboratoire" : "un autre laboratoire";
    if (status === "accepted") return `Prise en charge par ${by}`;
    const live = requests.map((r) => byFocus.get(`ServiceRequest/${r.id}`))
      .filter((t) => t && t.status !== "cancelled");
    const done = live.filter((t) => t.status === "completed").length;
    return `Prise en charge par ${by} · ${done} examen${done > 1 ? "s" : ""} fait${done > 1 ? "s" : ""} sur ${live.length}`;
  }

  function flagsOf(request) {
    return (request.extension || []).filter((x) => FLAGS[x.url] && x.valueBoolean).map((x) => FLAGS[x.url]);
  }

  function lineItem(request, task, refs, mine) {
    const item = make("li", "line");
    const status = task ? task.status : "requested";
    item.classList.add(`line-${status}`);

    const head = make("div", "line-head");
    const coding = (request.code && request.code.coding || []).find((c) => c.system === "http://loinc.org");
    const label = (coding && coding.display) || (request.code && request.code.text) || "Examen sans libellé";
    const title = make("span", "exam", label);
    head.append(title);
    if (coding) head.append(make("span", "loinc", `LOINC ${coding.code}`));
    else head.append(make("span", "loinc free", "Texte libre (sans code LOINC)"));
    if (PRIORITY[request.priority]) head.append(make("span", `badge urgent urgent-${request.priority}`, PRIORITY[request.priority]));
    for (const flag of flagsOf(request)) head.append(make("span", "badge flag", flag));
    const repeat = request.occurrenceTiming && request.occurrenceTiming.repeat;
    if (repeat && repeat.count > 1) head.append(make("span", "badge flag", `Renouvelable ×${repeat.count}`));
    item.append(head);

    const details = make("dl", "line-details");
    const detail = (term, value, className) => {
      if (!value) return;
      details.append(make("dt", null, term), make("dd", className || null, value));
    };
    const context = (request.supportingInfo || []).map((ref) => refs.get(ref.reference)).filter(Boolean).map(contextText);
    detail("Contexte clinique", context.join(" · "));
    detail("Motif", (request.reasonCode || []).map(conceptText).filter(Boolean).join(" · "));
    detail("Consigne patient", request.patientInstruction, "instruction");
    detail("Note", (request.note || []).map((n) => n.text).filter(Boolean).join(" · "));
    if (task && task.statusReason) detail("Raison", conceptText(task.statusReason));
    if (details.childElementCount) item.append(details);

    const foot = make("div", "line-foot");
    const statusText = status in LINE_STATUS ? LINE_STATUS[status] : status;
    if (statusText) foot.append(make("span", `line-status line-status-${status}`, statusText));
    if (task && mine && (status === "accepted" || status === "in-progress")) {
      foot.append(make("span", "mark-as", "Marquer comme :"));
      if (status === "accepted") foot.append(lineButton("Prélevé", task, "in-progress", label));
      foot.append(lineButton("Fait", task, "completed", label));
    }
    if (foot.childElementCount) item.append(foot);
    return item;
  }

  function lineButton(text, task, target, label) {
    const button = make("button", target === "completed" ? "primary" : null, text);
    button.type = "button";
    button.setAttribute("aria-label", `${text} : ${label}`);
    button.addEventListener("click", () => markLine(task, target, label));
    return button;
  }

  // ---- What she does ----------------------------------------------------------------------------
  async function busy(work) {
    if (state.busy) return;
    state.busy = true;
    document.body.classList.add("busy");
    try {
      await work();
    } catch (refusal) {
      complain(refusal);
    } finally {
      state.busy = false;
      document.body.classList.remove("busy");
    }
  }

  function show(bundle, note) {
    const request = resources(bundle).find((r) => r.resourceType === "ServiceRequest");
    state.bundle = bundle;
    state.code = request && request.requisition ? request.requisition.value : state.code;
    say(note || "", "ok");
    render();
  }

  function find(event) {
    if (event) event.preventDefault();
    const raw = el.code.value;
    if (!raw.trim()) {
      say("Scannez le QR code ou tapez le code imprimé sous le QR code.", "info");
      return;
    }
    if (looksScanned(raw)) {
      busy(async () => {
        show(await scan(raw.trim(), "text/plain"));
        el.code.value = "";
        updateHint();
      });
      return;
    }
    const verdict = judge(folded(raw));
    if (!verdict.ok) {
      say(verdict.text, "error");
      return;
    }
    busy(async () => {
      show(await pull(verdict.code));
      el.code.value = "";
      updateHint();
    });
  }

  function sendPhoto(blob) {
    say("Lecture du QR code sur la photo…", "info");
    const form = new FormData();
    form.append("image", blob, blob.name || "photo.jpg");
    return busy(async () => {
      show(await scan(form));
    });
  }

  function claim() {
    busy(async () => {
      show(await operation("claim", state.code), "Ordonnance prise en charge par votre laboratoire.");
    }).then(focusScan);
  }

  function release() {
    busy(async () => {
      show(await operation("release", state.code), "Ordonnance rendue : un autre laboratoire peut la prendre.");
    }).then(focusScan);
  }

  function markLine(task, target, label) {
    busy(async () => {
      try {
        const updated = await call("PUT", `/fhir/Task/${encodeURIComponent(task.id)}`,
          JSON.stringify({ ...task, status: target }),
          { "Content-Type": "application/fhir+json", "If-Match": `W/"${task.meta.versionId}"` });
        replaceTask(updated);
        say(`${label} : ${LINE_STATUS[target].toLowerCase()}.`, "ok");
        render();
        await refreshTasks();
      } catch (refusal) {
        if (refusal instanceof Refusal && refusal.status === 412) {
          show(await pull(state.code));
        }
        throw refusal;
      }
    }).then(focusScan);
  }

  function replaceTask(task) {
    for (const entry of state.bundle.entry || []) {
      if (entry.resource && entry.resource.resourceType === "Task" && entry.resource.id === task.id) {
        entry.resource = task;
      }
    }
  }

  // The group Task (and a renewal's next round) moves with the lines: read the Tasks again.
  async function refreshTasks() {
    const identifier = encodeURIComponent(`${EPU_SYSTEM}|${state.code}`);
    const tasks = await call("GET", `/fhir/Task?group-identifier=${identifier}`);
    for (const task of resources(tasks)) replaceTask(task);
    render();
  }

  // ---- The scan field -----------------------------------------------------------------------
  function updateHint() {
    const raw = el.code.value;
    el.hint.className = "hint";
    if (!raw.trim()) {
      el.hint.textContent = "Code de 18 caractères, par exemple 01S2-TBPZ-2JCN-ZZYG-HD (les tirets s'ajoutent seuls).";
      return;
    }
    if (looksScanned(raw)) {
      el.hint.textContent = "Lecture du scanner…";
      return;
    }
    const verdict = judge(folded(raw));
    el.hint.textContent = verdict.ok ? "Code valide : appuyez sur Entrée pour rechercher." : verdict.text;
    if (!verdict.partial) el.hint.classList.add(verdict.ok ? "hint-ok" : "hint-bad");
  }

  // Group the typed code as it is printed, keeping the caret after the same character.
  function regroup() {
    const raw = el.code.value;
    if (!looksScanned(raw)) {
      const caret = el.code.selectionStart === null ? raw.length : el.code.selectionStart;
      const before = folded(raw.slice(0, caret)).length;
      const code = folded(raw);
      const shown = grouped(code);
      if (shown !== raw) {
        el.code.value = shown;
        let position = 0;
        let seen = 0;
        while (position < shown.length && seen < before) {
          if (shown[position] !== "-") seen++;
          position++;
        }
        el.code.setSelectionRange(position, position);
      }
    }
    updateHint();
  }

  // Escape clears the field; on an empty field it also closes the prescription (next patient).
  function clearScan() {
    if (!el.code.value) {
      state.bundle = null;
      el.rx.hidden = true;
    }
    el.code.value = "";
    say("");
    updateHint();
    focusScan();
  }

  function focusScan() {
    if (!el.desk.hidden) el.code.focus();
  }

  // A hand scanner types wherever the focus is: bring printable keys back to the scan field.
  function keyAnywhere(event) {
    if (el.desk.hidden) return;
    if (event.key === "Escape") {
      event.preventDefault();
      if (!el.camera.hidden) closeCamera();
      clearScan();
      return;
    }
    const target = event.target;
    const typing = target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement;
    if (!typing && event.key.length === 1 && !event.ctrlKey && !event.metaKey && !event.altKey && event.key !== " ") {
      el.code.focus();
    }
  }

  // ---- Webcam -------------------------------------------------------------------------------
  let stream = null;

  async function openCamera() {
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment", width: { ideal: 1920 } } });
    } catch (e) {
      say("Caméra indisponible (refusée ou absente). Utilisez « Envoyer une photo… » ou tapez le code.", "error");
      return;
    }
    el.video.srcObject = stream;
    el.camera.hidden = false;
    el.cameraShoot.focus();
  }

  function closeCamera() {
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
    el.video.srcObject = null;
    el.camera.hidden = true;
  }

  function shoot() {
    const canvas = document.createElement("canvas");
    canvas.width = el.video.videoWidth;
    canvas.height = el.video.videoHeight;
    if (!canvas.width) {
      say("La caméra n'envoie pas encore d'image : réessayez dans une seconde.", "info");
      return;
    }
    canvas.getContext("2d").drawImage(el.video, 0, 0);
    canvas.toBlob((blob) => {
      closeCamera();
      sendPhoto(blob).then(focusScan);
    }, "image/jpeg", 0.9);
  }

  // ---- Start ----------------------------------------------------------------------------------
  el.signInForm.addEventListener("submit", signIn);
  el.signOut.addEventListener("click", () => signOut(""));
  el.scanForm.addEventListener("submit", find);
  el.code.addEventListener("input", regroup);
  el.photo.addEventListener("change", () => {
    const file = el.photo.files && el.photo.files[0];
    el.photo.value = "";
    if (file) sendPhoto(file).then(focusScan);
  });
  el.cameraOpen.addEventListener("click", openCamera);
  el.cameraShoot.addEventListener("click", shoot);
  el.cameraClose.addEventListener("click", () => { closeCamera(); focusScan(); });
  el.claim.addEventListener("click", claim);
  el.release.addEventListener("click", release);
  document.addEventListener("keydown", keyAnywhere);

  updateHint();
  if (token()) showSignedIn();
  else el.tokenInput.focus();
})();
