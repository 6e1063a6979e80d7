// The dashboard: wires the views to one selection (model, building, storey, space or element) and to the
// twin's live changes. Everything it shows comes from the GraphQL API.
import "uplot/dist/uPlot.min.css";
import "./style.css";
import { AnomalyFeed } from "./anomalies.js";
import { forgetKey, readFragment, rememberKey, TwinApi } from "./api.js";
import { PointCharts } from "./charts.js";
import { debounce, h } from "./dom.js";
import { Gantt } from "./gantt.js";
import { KpiCards } from "./kpis.js";
import { StoreyPlan } from "./plan.js";
import { SpatialTree } from "./tree.js";

const $ = (id) => document.getElementById(id);
const CHANGES = `subscription($m: ID) { elementChanges(uid: "*", model: $m) { uid kind status } }`;
const FIRST_STOREY = `query($m: ID!, $b: ID!) { model(id: $m) { storeys(first: 1) { nodes { uid } } }
  node(uid: $b) { ... on Building { storeys(first: 1) { nodes { uid } } } } }`;

/** Errors go to a banner, one line each, newest first; the same message is shown once. */
function banner() {
  const root = $("errors");
  const shown = new Map();
  return (message) => {
    console.warn(message);
    if (shown.has(message)) return;
    const line = h(
      "div",
      { class: "error" },
      h("span", {}, message),
      h("button", { "aria-label": "dismiss", onclick: () => (line.remove(), shown.delete(message)) }, "×"),
    );
    shown.set(message, line);
    root.prepend(line);
    setTimeout(() => (line.remove(), shown.delete(message)), 20_000);
  };
}

class Dashboard {
  constructor(api, report) {
    this.api = api;
    this.report = report;
    this.place = null;
    this.tree = new SpatialTree($("tree"), api, report, (place) => this.select(place));
    this.kpis = new KpiCards($("kpis"), $("kpi-title"), api, report);
    this.feed = new AnomalyFeed(
      $("feed"),
      $("feed-count"),
      api,
      report,
      (point) => this.charts.showPoint(point),
      debounce(() => this.place && this.kpis.show(this.place), 800), // the open-anomalies card
    );
    this.charts = new PointCharts($("charts"), $("charts-title"), api, report);
    this.gantt = new Gantt($("gantt"), $("gantt-title"), api, report);
    this.plan = new StoreyPlan($("plan"), $("plan-title"), $("plan-mode"), $("plan-legend"), api, report, (space) =>
      this.select({ ...space, level: "space", model: this.model, storey: this.storey, space: space.uid }),
    );
    this.refresh = debounce(() => this.refreshStatus(), 800);
  }

  async open(model) {
    this.model = model;
    this.stopChanges?.();
    // Bound properties change with every reading; only status changes move KPIs and the plan's colours.
    this.stopChanges = this.api.subscribe(
      CHANGES,
      { m: model },
      (data) => data.elementChanges.kind === "status_change" && this.refresh(),
      this.report,
    );
    await Promise.all([this.tree.show(model), this.feed.show(model), this.gantt.show(model)]);
  }

  async select(place) {
    this.place = place;
    this.tree.mark(place.uid);
    $("where").textContent = `${place.level}: ${place.name || place.uid}`;
    const storey = place.storey || (await this.firstStorey(place));
    if (this.place !== place) return; // chosen again meanwhile: that newer choice draws
    this.storey = storey;
    await Promise.all([
      this.kpis.show(place),
      this.plan.show(storey, place.space || null),
      this.charts.showPlace(place),
    ]);
  }

  async firstStorey(place) {
    try {
      const data = await this.api.query(FIRST_STOREY, { m: place.model, b: place.building || "" });
      return (data.node?.storeys || data.model?.storeys)?.nodes[0]?.uid || null;
    } catch (error) {
      this.report(error.message);
      return null;
    }
  }

  /** Element statuses changed somewhere in the model: KPIs and the plan's colours follow. */
  async refreshStatus() {
    if (!this.place) return;
    await Promise.all([this.kpis.show(this.place), this.plan.show(this.storey, this.place.space || null)]);
  }
}

function askForKey(reason) {
  const dialog = $("key-dialog");
  if (reason) dialog.querySelector("p").prepend(h("strong", {}, `${reason}. `));
  $("key-form").addEventListener("submit", () => {
    const key = $("key-input").value.trim();
    if (key) {
      rememberKey(key);
      window.location.reload();
    }
  });
  dialog.showModal();
}

async function start() {
  const report = banner();
  const { key, model: wanted } = readFragment();
  if (!key) {
    askForKey();
    return;
  }
  const live = $("live");
  const api = new TwinApi(key, {
    onLive: (up) => {
      live.textContent = up ? "live" : "offline";
      live.classList.toggle("up", up);
    },
  });
  let models;
  try {
    models = (await api.query("{ models { id name } }")).models;
  } catch (error) {
    if (error.status === 401) {
      forgetKey();
      askForKey(error.message);
    } else report(error.message);
    return;
  }
  if (!models.length) {
    $("kpis").replaceChildren(h("p", {}, "The twin holds no model yet: load one with `kgtwin load ifc FILE`."));
    return;
  }
  const select = $("model");
  select.replaceChildren(...models.map((m) => h("option", { value: m.id }, m.name ? `${m.name} (${m.id})` : m.id)));
  const dashboard = new Dashboard(api, report);
  select.addEventListener("change", () => dashboard.open(select.value));
  select.value = models.some((m) => m.id === wanted) ? wanted : models[0].id;
  await dashboard.open(select.value);
}

start();
