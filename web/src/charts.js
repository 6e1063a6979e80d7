// Charts of the recent values of the selected place's points, with their limits as lines, kept live by
// the `observations` subscription.
import uPlot from "uplot";
import { h, number, when } from "./dom.js";

const WINDOW_MS = 6 * 3600 * 1000;
const MAX_POINTS = 12;
const RAW_LIMIT = 5000; // more readings than this in the window: averages per interval instead
const POINT = `uid pointId name brickClass unit lastValue lastTime minLimit maxLimit
  observations(from: $from, limit: ${RAW_LIMIT}) { t v }`;
const AVERAGES = `query($uid: ID!, $from: DateTime, $every: Float!) { point(id: $uid) {
  downsampled(everySeconds: $every, from: $from) { start avg count } } }`;
const OF_PLACE = `query($uid: ID!, $from: DateTime) { node(uid: $uid) {
  ... on Space { points(first: ${MAX_POINTS}) { totalCount nodes { ${POINT} } } }
  ... on Element { points(first: ${MAX_POINTS}) { totalCount nodes { ${POINT} } } } } }`;
const ONE = `query($uid: ID!, $from: DateTime) { point(id: $uid) { ${POINT} } }`;
const LIVE = "subscription($points: [ID!]!) { observations(points: $points) { point time value quality } }";

export class PointCharts {
  constructor(root, title, api, report) {
    this.root = root;
    this.title = title;
    this.api = api;
    this.report = report;
    this.charts = new Map();
    this.stop = null;
    this.turn = 0; // each new selection's turn: a slower earlier one must not draw over it
    new ResizeObserver(() => this.resize()).observe(root);
  }

  clear(message) {
    this.stop?.();
    this.stop = null;
    for (const chart of this.charts.values()) chart.plot.destroy();
    this.charts.clear();
    this.root.replaceChildren(h("p", { class: "muted" }, message));
  }

  /** The points of a space or element; other places have too many to chart. */
  async showPlace(place) {
    const turn = ++this.turn;
    if (place.level !== "space" && place.level !== "element") {
      this.title.textContent = "";
      this.clear("Select a room or an element (in the tree or on the plan) to chart its points.");
      return;
    }
    const from = new Date(Date.now() - WINDOW_MS).toISOString();
    try {
      const connection = (await this.api.query(OF_PLACE, { uid: place.uid, from })).node?.points;
      const points = connection?.nodes || [];
      if (turn !== this.turn) return;
      this.title.textContent = `of ${place.name || place.uid}` + (connection?.totalCount > points.length
        ? ` (first ${points.length} of ${connection.totalCount})` : "");
      await this.render(points, turn);
    } catch (error) {
      this.report(error.message);
    }
  }

  async showPoint(point) {
    const turn = ++this.turn;
    const from = new Date(Date.now() - WINDOW_MS).toISOString();
    try {
      const found = (await this.api.query(ONE, { uid: point.uid, from })).point;
      if (turn !== this.turn) return;
      this.title.textContent = `: ${found?.name || point.uid}`;
      await this.render(found ? [found] : [], turn);
    } catch (error) {
      this.report(error.message);
    }
  }

  /** The window's readings, or their averages per interval when there are too many to draw. */
  async series(point) {
    if (point.observations.t.length < RAW_LIMIT) {
      return { t: point.observations.t.map((t) => t / 1000), v: [...point.observations.v] };
    }
    const from = new Date(Date.now() - WINDOW_MS).toISOString();
    const every = WINDOW_MS / 1000 / 720;
    const d = (await this.api.query(AVERAGES, { uid: point.uid, from, every })).point.downsampled;
    const kept = d.start.map((_, i) => i).filter((i) => d.count[i] > 0);
    return { t: kept.map((i) => d.start[i] / 1000), v: kept.map((i) => d.avg[i]) };
  }

  async render(points, turn) {
    if (turn !== this.turn) return;
    this.clear(points.length ? "" : "No points here.");
    if (!points.length) return;
    this.root.replaceChildren();
    for (const point of points) {
      const series = await this.series(point);
      if (turn !== this.turn) return;
      const box = h("div", { class: "chart", dataset: { point: point.uid, testid: "chart" } });
      const head = h("div", { class: "chart-head" });
      box.append(head);
      this.root.append(box);
      const plot = new uPlot(options(point, this.width(box)), data(point, series), box);
      this.charts.set(point.uid, { point, series, plot, head });
      this.describe(this.charts.get(point.uid));
    }
    this.stop = this.api.subscribe(
      LIVE,
      { points: points.map((p) => p.uid) },
      (d) => this.add(d.observations),
      (message) => this.report(`live values: ${message}`),
    );
  }

  add(observation) {
    const chart = this.charts.get(observation.point);
    if (!chart) return;
    const t = new Date(observation.time).getTime() / 1000;
    const { series } = chart;
    // Readings may arrive out of order (late sensors): keep the series sorted by time.
    let at = series.t.length;
    while (at > 0 && series.t[at - 1] > t) at -= 1;
    if (series.t[at - 1] === t) series.v[at - 1] = observation.value;
    else {
      series.t.splice(at, 0, t);
      series.v.splice(at, 0, observation.value);
    }
    const oldest = Date.now() / 1000 - WINDOW_MS / 1000;
    while (series.t.length && series.t[0] < oldest) {
      series.t.shift();
      series.v.shift();
    }
    chart.point.lastValue = series.v[series.v.length - 1];
    chart.point.lastTime = new Date(series.t[series.t.length - 1] * 1000).toISOString();
    chart.plot.setData(data(chart.point, series));
    this.describe(chart);
  }

  describe({ point, series, head }) {
    const limits = [
      point.minLimit !== null ? `min ${number(point.minLimit, 2)}` : null,
      point.maxLimit !== null ? `max ${number(point.maxLimit, 2)}` : null,
    ].filter(Boolean);
    head.replaceChildren(
      h("strong", {}, point.name || point.pointId || point.uid),
      h("span", { class: "muted" }, ` ${point.brickClass || ""}`),
      h(
        "span",
        { class: "chart-last", dataset: { testid: "chart-last" } },
        point.lastValue !== null && point.lastValue !== undefined
          ? `${number(point.lastValue, 2)} ${point.unit || ""} at ${when(point.lastTime)}`
          : "no reading yet",
      ),
      h("span", { class: "muted" }, ` · ${series.v.length} values${limits.length ? ` · limits ${limits.join(", ")}` : ""}`),
    );
  }

  width(box) {
    return Math.max(260, box.clientWidth - 14);
  }

  resize() {
    for (const { plot } of this.charts.values()) plot.setSize({ width: this.width(plot.root.parentElement), height: 170 });
  }
}

function data(point, series) {
  const line = (value) => series.t.map(() => value);
  return [
    series.t,
    series.v,
    line(point.minLimit ?? null),
    line(point.maxLimit ?? null),
  ];
}

function options(point, width) {
  const unit = point.unit || "";
  return {
    width,
    height: 170,
    legend: { show: false },
    scales: { x: { time: true } },
    axes: [{}, { label: unit, size: 56 }],
    series: [
      {},
      { label: point.name || point.uid, stroke: "#2f6fdf", width: 1.5, points: { show: true, size: 4 } },
      { label: "min", stroke: "#d9434e", dash: [6, 4], width: 1, points: { show: false } },
      { label: "max", stroke: "#d9434e", dash: [6, 4], width: 1, points: { show: false } },
    ],
  };
}
