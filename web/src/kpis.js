// KPI cards of the selected place, rolled up from the places one level below it (`kpis` with children).
import { h, number, percent, STATUS_COLOURS } from "./dom.js";

const STATUS = "status { planned inProgress completed issue }";
const QUERY = `query($m: ID!, $b: ID, $s: ID, $sp: ID, $c: Level) {
  kpis(model: $m, building: $b, storey: $s, space: $sp, children: $c) {
    level uid elementCount percentComplete percentCompleteByVolume percentCompleteByArea ${STATUS}
    points { total reporting stale silent } openAnomalies { key count }
    children { uid level elementCount percentComplete ${STATUS} points { total reporting stale silent }
      openAnomalies { key count } place { name } } } }`;

// The level whose places are listed under each level, and the scope arguments of a selection.
const CHILD_LEVEL = { model: "BUILDING", building: "STOREY", storey: "SPACE" };

export function scopeOf(place) {
  const level = place.level === "element" ? (place.space ? "space" : "storey") : place.level;
  return {
    level,
    vars: {
      m: place.model,
      b: level === "model" ? null : place.building || null,
      s: level === "storey" ? place.storey : null,
      sp: level === "space" ? place.space : null,
      c: CHILD_LEVEL[level] || null,
    },
  };
}

export class KpiCards {
  constructor(root, title, api, report) {
    this.root = root;
    this.title = title;
    this.api = api;
    this.report = report;
  }

  async show(place) {
    this.place = place;
    const { level, vars } = scopeOf(place);
    let k;
    try {
      k = (await this.api.query(QUERY, vars)).kpis;
    } catch (error) {
      this.report(error.message);
      return;
    }
    if (this.place !== place) return; // another selection came first
    const below = { model: "buildings", building: "storeys", storey: "spaces" }[level];
    this.title.textContent = `KPIs of the ${level}` + (below ? `, rolled up from its ${below}` : "");
    const anomalies = k.openAnomalies.reduce((sum, c) => sum + c.count, 0);
    this.root.replaceChildren(
      h(
        "div",
        { class: "cards" },
        card("elements", "Elements", number(k.elementCount, 0)),
        card("complete", "Complete", percent(k.percentComplete), byMeasure(k)),
        card("status", "By status", statusBar(k.status), statusLegend(k.status)),
        card(
          "points",
          "Points reporting",
          `${number(k.points.reporting, 0)} / ${number(k.points.total, 0)}`,
          `${number(k.points.stale, 0)} stale · ${number(k.points.silent, 0)} never reported`,
        ),
        card(
          "anomalies",
          "Open anomalies",
          number(anomalies, 0),
          k.openAnomalies.map((c) => `${c.count} ${c.key}`).join(" · ") || "none",
        ),
      ),
      ...(k.children.length ? [childTable(k.children)] : []),
    );
  }
}

function card(name, label, value, detail) {
  return h(
    "div",
    { class: "card", dataset: { kpi: name } },
    h("div", { class: "card-label" }, label),
    h("div", { class: "card-value", dataset: { testid: `kpi-${name}` } }, value),
    detail ? h("div", { class: "card-detail" }, detail) : null,
  );
}

function byMeasure(k) {
  const parts = [];
  if (k.percentCompleteByVolume !== null) parts.push(`${percent(k.percentCompleteByVolume)} by volume`);
  if (k.percentCompleteByArea !== null) parts.push(`${percent(k.percentCompleteByArea)} by area`);
  return parts.join(" · ") || "by count";
}

const STATUS_KEYS = [
  ["completed", "completed"],
  ["inProgress", "in_progress"],
  ["issue", "issue"],
  ["planned", "planned"],
];

function statusBar(status) {
  const total = STATUS_KEYS.reduce((sum, [key]) => sum + status[key], 0) || 1;
  return h(
    "div",
    { class: "status-bar" },
    STATUS_KEYS.map(([key, value]) =>
      h("span", {
        title: `${value.replace("_", " ")}: ${status[key]}`,
        style: `width:${(100 * status[key]) / total}%;background:${STATUS_COLOURS[value]}`,
      }),
    ),
  );
}

function statusLegend(status) {
  return STATUS_KEYS.map(([key, value]) => `${status[key]} ${value.replace("_", " ")}`).join(" · ");
}

function childTable(children) {
  return h(
    "table",
    { class: "children", dataset: { testid: "kpi-children" } },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ["", "elements", "complete", "status", "points reporting", "open anomalies"].map((t) => h("th", {}, t)),
      ),
    ),
    h(
      "tbody",
      {},
      children.map((c) =>
        h(
          "tr",
          { dataset: { uid: c.uid } },
          h("td", {}, c.place?.name || c.uid),
          h("td", { class: "num" }, number(c.elementCount, 0)),
          h("td", { class: "num" }, percent(c.percentComplete)),
          h("td", {}, statusBar(c.status)),
          h("td", { class: "num" }, `${c.points.reporting} / ${c.points.total}`),
          h("td", { class: "num" }, String(c.openAnomalies.reduce((sum, a) => sum + a.count, 0))),
        ),
      ),
    ),
  );
}
