// The request page's keyboard: every decision can be made without the mouse.
//   j / ArrowDown, k / ArrowUp   next / previous proposal
//   a        approve this one and go to the next undecided one
//   e        correct a value: the least sure field takes the cursor (its place on the page is lit);
//            Enter approves with the correction and goes on, Escape goes back
//   r        reject: the reason takes the cursor; Enter rejects and goes on
//   Shift+A  approve every undecided proposal whose values are all at least the page's "sure" level
//   n        the next undecided proposal
//   Ctrl+Enter (or s)  submit the decisions
// The form works without this script too: radios, inputs and the submit button.
"use strict";

(function () {
  const form = document.getElementById("answer");
  if (!form) return;
  document.body.classList.add("keyed"); // only the selected card shows its values (review.css)
  const cards = Array.from(form.querySelectorAll("article.card"));
  const source = document.getElementById("source");
  const progress = document.getElementById("progress");
  const sure = parseFloat(form.dataset.sure);
  const sources = new Map(); // proposal id -> Promise of its source fragment
  let current = -1;

  const radio = (card, value) => card.querySelector(`input[type=radio][value=${value}]`);
  const reasonInput = (card) => card.querySelector(".why input");
  const decision = (card) => (radio(card, "approve").checked ? "approve" : radio(card, "reject").checked ? "reject" : "");

  function refresh(card) {
    const chosen = decision(card);
    card.classList.toggle("approved", chosen === "approve");
    card.classList.toggle("rejected", chosen === "reject");
    const edited = Array.from(card.querySelectorAll("td.value input")).filter((i) => i.value !== i.dataset.proposed);
    card.querySelectorAll("td.value input").forEach((i) => i.classList.toggle("changed", i.value !== i.dataset.proposed));
    card.querySelector(".state").textContent = chosen === "reject" ? "rejected" : chosen === "approve" ? (edited.length ? "approved, corrected" : "approved") : "";
    const decided = cards.filter((c) => decision(c)).length;
    progress.textContent = `${decided} of ${cards.length} decided`;
  }

  function fetchSource(card) {
    if (!card) return null;
    if (!sources.has(card.dataset.id)) {
      sources.set(card.dataset.id, fetch(card.dataset.source, { credentials: "same-origin" }).then((r) => r.text()));
    }
    return sources.get(card.dataset.id);
  }

  function placeBoxes(root) {
    root.querySelectorAll(".box").forEach((box) => {
      for (const side of ["left", "top", "width", "height"]) box.style[side] = `${parseFloat(box.dataset[side]) * 100}%`;
    });
  }

  function light(field) {
    source.querySelectorAll(".box, mark").forEach((el) => el.classList.toggle("active", el.dataset.field === field));
    const lit = source.querySelector(`.box.active, mark.active`);
    if (lit) lit.scrollIntoView({ block: "nearest" });
  }

  function select(index, focus = true) {
    if (index < 0 || index >= cards.length) return;
    if (current >= 0) cards[current].classList.remove("current");
    current = index;
    const card = cards[current];
    card.classList.add("current");
    if (focus) card.focus({ preventScroll: true });
    card.scrollIntoView({ block: "nearest" });
    const wanted = card.dataset.id;
    if (source.dataset.id !== wanted) {
      source.dataset.id = wanted;
      source.replaceChildren(Object.assign(document.createElement("p"), { className: "hint", textContent: "loading the source…" }));
    }
    fetchSource(card).then((html) => {
      if (cards[current].dataset.id !== wanted) return;
      source.innerHTML = html;
      placeBoxes(source);
      const active = document.activeElement;
      if (active && active.dataset && active.dataset.field && card.contains(active)) light(active.dataset.field);
    });
    fetchSource(cards[current + 1]); // the next one is ready when it is wanted
  }

  function nextUndecided() {
    for (let step = 0; step < cards.length; step++) {
      const i = (current + step) % cards.length;
      if (!decision(cards[i])) return select(i);
    }
    document.getElementById("submit").focus();
  }

  function decide(card, value) {
    radio(card, value).checked = true;
    refresh(card);
  }

  function approveSure() {
    cards.forEach((card) => {
      const s = parseFloat(card.dataset.sureness);
      if (!decision(card) && !Number.isNaN(s) && s >= sure) decide(card, "approve");
    });
    nextUndecided();
  }

  function submit() {
    const open = cards.findIndex((c) => !decision(c));
    if (open >= 0) {
      select(open);
      progress.textContent = `${cards.length - cards.filter((c) => decision(c)).length} still undecided`;
      return;
    }
    form.requestSubmit();
  }

  form.addEventListener("keydown", (event) => {
    const target = event.target;
    const typing = target.tagName === "INPUT" && target.type !== "radio";
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      return submit();
    }
    if (typing) {
      const card = target.closest("article.card");
      if (event.key === "Escape") {
        event.preventDefault();
        return card.focus();
      }
      if (event.key === "Enter") {
        event.preventDefault();
        if (target.closest(".why")) {
          if (!target.value.trim()) return;
          decide(card, "reject");
        } else {
          decide(card, "approve");
        }
        return nextUndecided();
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const card = cards[current];
    switch (event.key) {
      case "j": case "ArrowDown": event.preventDefault(); return select(current + 1);
      case "k": case "ArrowUp": event.preventDefault(); return select(Math.max(0, current - 1));
      case "n": event.preventDefault(); return nextUndecided();
      case "A": event.preventDefault(); return approveSure();
      case "s": event.preventDefault(); return submit();
      case "a": if (card) { event.preventDefault(); decide(card, "approve"); nextUndecided(); } return;
      case "r": if (card) { event.preventDefault(); reasonInput(card).focus(); } return;
      case "e": if (card) { event.preventDefault(); const first = card.querySelector("td.value input"); if (first) first.focus(); } return;
    }
  });

  // keys are read wherever the focus is on the page, not only inside the form
  document.addEventListener("keydown", (event) => {
    if (!form.contains(event.target)) form.dispatchEvent(new KeyboardEvent("keydown", event));
  });
  form.addEventListener("focusin", (event) => {
    const card = event.target.closest && event.target.closest("article.card");
    if (card && cards.indexOf(card) !== current) select(cards.indexOf(card), false);
    if (event.target.dataset && event.target.dataset.field) light(event.target.dataset.field);
  });
  form.addEventListener("input", (event) => {
    const card = event.target.closest("article.card");
    if (card) refresh(card);
  });
  form.addEventListener("change", (event) => {
    const card = event.target.closest("article.card");
    if (card) refresh(card);
  });
  document.getElementById("approve-sure").addEventListener("click", approveSure);
  cards.forEach(refresh);
  const problems = document.getElementById("problems");
  select(Math.max(0, cards.findIndex((c) => !decision(c))), !problems);
})();
