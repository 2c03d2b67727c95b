// The console's offline outbox. An event form saved with this script is first written to
// IndexedDB with its own idempotency key and the phone's time, then sent through
// POST /v1/sync whenever the network is there (on load, when the browser comes online,
// every 15 s). Each item keeps the registry's answer: accepted, already there, or refused
// (with the reason in words, and a way to fix and resend). A send that was cut off is
// repeated with the same key, which the registry answers as "already there": nothing is
// recorded twice, and nothing is lost when the browser closes in between.
(function () {
  "use strict";
  var DB = "registry-console", STORE = "outbox", LOCK = "registry-outbox", CHUNK = 100;

  function meta(name) {
    var el = document.querySelector('meta[name="' + name + '"]');
    return el ? el.content : "";
  }

  function openDb() {
    return new Promise(function (resolve, reject) {
      var req = indexedDB.open(DB, 1);
      req.onupgradeneeded = function () {
        req.result.createObjectStore(STORE, { keyPath: "id", autoIncrement: true });
      };
      req.onsuccess = function () { resolve(req.result); };
      req.onerror = function () { reject(req.error); };
    });
  }

  function withStore(mode, work) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(STORE, mode), result;
        Promise.resolve(work(tx.objectStore(STORE))).then(function (r) { result = r; });
        tx.oncomplete = function () { db.close(); resolve(result); };
        tx.onerror = tx.onabort = function () { db.close(); reject(tx.error); };
      });
    });
  }

  function request(req) {
    return new Promise(function (resolve, reject) {
      req.onsuccess = function () { resolve(req.result); };
      req.onerror = function () { reject(req.error); };
    });
  }

  function allItems() {
    return withStore("readonly", function (s) { return request(s.getAll()); })
      .then(function (items) { return items.sort(function (a, b) { return a.id - b.id; }); });
  }
  function getItem(id) { return withStore("readonly", function (s) { return request(s.get(id)); }); }
  function putItem(item) { return withStore("readwrite", function (s) { return request(s.put(item)); }); }
  function deleteItem(id) { return withStore("readwrite", function (s) { return request(s.delete(id)); }); }

  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function phoneOffset(d) {
    var minutes = -d.getTimezoneOffset(), sign = minutes < 0 ? "-" : "+";
    minutes = Math.abs(minutes);
    return sign + pad(Math.floor(minutes / 60)) + ":" + pad(minutes % 60);
  }
  function phoneDate(d) { return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()); }
  function phoneClock(d) { return pad(d.getHours()) + ":" + pad(d.getMinutes()); }
  function phoneTime(d) {
    return phoneDate(d) + "T" + phoneClock(d) + ":" + pad(d.getSeconds()) + phoneOffset(d);
  }

  // The same conversion as registry/console/forms.py form_to_event, driven by data-kind.
  function buildEvent(form) {
    var event = { type: form.dataset.type, data: {} };
    form.querySelectorAll("[data-kind]").forEach(function (el) {
      var raw = el.value.trim(), kind = el.dataset.kind, value = raw;
      if (!raw) return;
      if (kind === "number") value = Number(raw);
      else if (kind === "int") value = parseInt(raw, 10);
      else if (kind === "list") {
        value = raw.split(/[,，、;；]/).map(function (p) { return p.trim(); }).filter(Boolean);
      }
      var parts = el.name.split(".");
      event[parts[0]] = event[parts[0]] || {};
      event[parts[0]][parts[1]] = value;
    });
    var clock = form.elements.event_clock.value;
    event.event_time = form.elements.event_date.value + "T" +
      (clock.length === 5 ? clock + ":00" : clock) + form.elements.tz.value;
    return event;
  }

  function formValues(form) {
    var values = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (el.name && el.name !== "csrf_token" && el.name !== "idempotency_key") values[el.name] = el.value;
    });
    return values;
  }

  function newKey() {
    if (self.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2);
  }

  function explain(error, detail) {
    var q = "?error=" + encodeURIComponent(error || "") + "&detail=" + encodeURIComponent(detail || "");
    return fetch("/console/refusal" + q, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : { message: detail }; })
      .then(function (body) { return body.message; }, function () { return detail; });
  }

  function sendWaiting() {
    var org = meta("org");
    return allItems().then(function (items) {
      var waiting = items.filter(function (i) { return i.state === "waiting" && i.org === org; });
      var chain = Promise.resolve("ok");
      for (var start = 0; start < waiting.length; start += CHUNK) {
        (function (chunk) {
          chain = chain.then(function (outcome) {
            if (outcome !== "ok") return outcome;
            return sendChunk(chunk);
          });
        })(waiting.slice(start, start + CHUNK));
      }
      return chain;
    });
  }

  function sendChunk(chunk) {
    var body = JSON.stringify({ items: chunk.map(function (i) {
      return { batch_id: i.batch_id, idempotency_key: i.key, event: i.event };
    }) });
    return fetch("/v1/sync", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": meta("csrf-token") },
      body: body,
    }).then(function (response) {
      if (response.status === 401 || response.status === 403) return "signin";
      if (!response.ok) return "retry";
      return response.json().then(function (answer) {
        var updates = answer.results.map(function (result) {
          var item = chunk.find(function (i) { return i.key === result.idempotency_key; });
          if (!item) return null;
          item.state = result.status;
          item.seq = result.event ? result.event.seq : null;
          item.error = result.error || null;
          item.detail = result.detail || null;
          item.answered_at = phoneTime(new Date());
          var words = result.status === "rejected" ? explain(result.error, result.detail) : Promise.resolve(null);
          return words.then(function (message) { item.message = message; return putItem(item); });
        });
        return Promise.all(updates).then(function () { return "ok"; });
      });
    }, function () { return "offline"; });
  }

  var lastOutcome = null, retryTimer = null;
  function flush() {
    if (!navigator.onLine) { lastOutcome = "offline"; return draw(); }
    var run = function () { return sendWaiting(); };
    var locked = navigator.locks ? navigator.locks.request(LOCK, run) : run();
    return locked.then(function (outcome) { lastOutcome = outcome; }, function () { lastOutcome = "retry"; })
      .then(function () {
        // The network came back but the send did not go through: try again soon.
        if ((lastOutcome === "offline" || lastOutcome === "retry") && navigator.onLine) {
          clearTimeout(retryTimer);
          retryTimer = setTimeout(flush, 3000);
        }
        return draw();
      });
  }

  function words(name) {
    var t = document.getElementById("outbox-words");
    return t ? t.getAttribute("data-" + name) || "" : "";
  }

  function draw() {
    return allItems().then(function (items) {
      var org = meta("org");
      items = items.filter(function (i) { return i.org === org; });
      var waiting = items.filter(function (i) { return i.state === "waiting"; }).length;
      var banner = document.getElementById("outbox-banner");
      if (banner) {
        banner.hidden = waiting === 0 || !!document.getElementById("outbox-list");
        banner.textContent = (banner.dataset.text || "").replace("{count}", waiting);
      }
      var count = document.getElementById("outbox-count");
      if (count) count.textContent = waiting ? "(" + waiting + ")" : "";
      var list = document.getElementById("outbox-list");
      if (!list) return;
      var status = document.getElementById("outbox-status");
      var mode = !navigator.onLine ? "offline" : lastOutcome === "signin" ? "signin" : "online";
      status.textContent = status.dataset[mode];
      document.getElementById("outbox-empty").hidden = items.length > 0;
      list.textContent = "";
      items.slice().reverse().forEach(function (item) { list.appendChild(row(item)); });
    });
  }

  function row(item) {
    var li = document.createElement("li");
    li.dataset.key = item.key;
    li.dataset.state = item.state;
    var title = document.createElement("strong");
    title.textContent = (words("event-" + item.type.replace(/_/g, "-")) || item.type) + " · " + item.lot;
    var state = document.createElement("span");
    state.className = "state state-" + item.state;
    state.textContent = " " + words(item.state) + (item.seq != null ? " · " + words("seq") + " " + item.seq : "");
    var when = document.createElement("div");
    when.className = "muted";
    when.textContent = words("phone-time") + " " + item.phone_time.replace("T", " ");
    li.append(title, state, when);
    if (item.state === "rejected") {
      var reason = document.createElement("p");
      reason.className = "error";
      reason.textContent = item.message || item.detail || "";
      var fix = document.createElement("a");
      fix.className = "button alt";
      fix.href = "/console/batches/" + item.batch_id + "/record/" + item.type + "?fix=" + item.id;
      fix.textContent = words("fix");
      var discard = document.createElement("button");
      discard.type = "button";
      discard.className = "alt";
      discard.textContent = words("discard");
      discard.addEventListener("click", function () { deleteItem(item.id).then(draw); });
      var actions = document.createElement("div");
      actions.className = "actions";
      actions.append(fix, discard);
      li.append(reason, actions);
    }
    return li;
  }

  function fillTimes(form) {
    var now = new Date();
    form.querySelectorAll("[data-today]").forEach(function (el) { el.value = phoneDate(now); });
    form.querySelectorAll("[data-now]").forEach(function (el) { el.value = phoneClock(now); });
    form.querySelectorAll("[data-tz]").forEach(function (el) { el.value = phoneOffset(now); });
  }

  function setUpForm(form) {
    var fixing = Number(new URLSearchParams(location.search).get("fix")) || null;
    if (!form.hasAttribute("data-keep")) fillTimes(form);
    if (fixing) {
      getItem(fixing).then(function (item) {
        if (!item) return;
        Object.keys(item.form).forEach(function (name) {
          if (form.elements[name]) form.elements[name].value = item.form[name];
        });
      });
    }
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var item = {
        key: newKey(),
        org: meta("org"),
        batch_id: form.dataset.batch,
        lot: form.dataset.lot,
        type: form.dataset.type,
        event: buildEvent(form),
        form: formValues(form),
        phone_time: phoneTime(new Date()),
        state: "waiting",
      };
      var saved = putItem(item);
      if (fixing) saved = saved.then(function () { return deleteItem(fixing); });
      saved.then(function () { location.href = "/console/outbox"; });
    });
  }

  function warmCache() {
    // Forms linked from this page are fetched once, so the service worker keeps them for
    // use without a network.
    if (!navigator.onLine || !navigator.serviceWorker || !navigator.serviceWorker.controller) return;
    var links = ["/console/outbox", location.pathname];
    document.querySelectorAll("a[data-offline]").forEach(function (a) { links.push(a.getAttribute("href")); });
    links.forEach(function (href) { fetch(href, { credentials: "same-origin" }).catch(function () {}); });
  }

  function start() {
    var form = document.querySelector("form[data-outbox]");
    if (form && window.indexedDB) setUpForm(form);
    var signout = document.querySelector("form[data-signout]");
    if (signout && window.caches) {
      signout.addEventListener("submit", function (e) {
        e.preventDefault();
        caches.keys().then(function (keys) {
          return Promise.all(keys.map(function (k) { return caches.delete(k); }));
        }).then(function () { signout.submit(); }, function () { signout.submit(); });
      });
    }
    if (navigator.serviceWorker) {
      navigator.serviceWorker.register("/console/sw.js", { scope: "/console/" })
        .then(function () { return navigator.serviceWorker.ready; })
        .then(function () { setTimeout(warmCache, 300); })
        .catch(function () {});
    }
    if (!window.indexedDB || !meta("org")) return;
    window.addEventListener("online", flush);
    window.addEventListener("offline", draw);
    setInterval(flush, 15000);
    flush();
  }

  document.addEventListener("DOMContentLoaded", start);
})();
