// The schedule as a Gantt chart: planned bars with progress, the critical path in red, summary bars
// over their activities, the data date, and the project's earned-value figures (`scheduleReport`).
import { day, h, number, percent, s } from "./dom.js";

const SCHEDULES = "query($m: ID!) { model(id: $m) { schedules { uid name } } }";
const REPORT = `query($m: ID!, $schedule: String, $asOf: DateTime) {
  scheduleReport(model: $m, schedule: $schedule, asOf: $asOf) { asOf basis forecastFinish criticalPath
    project { expectedPercent actualPercent spi status plannedFinish forecastFinish finishVarianceDays }
    activities { uid name identification plannedStart plannedFinish actualStart actualFinish percentComplete
      expectedPercent status critical totalFloatHours forecastFinish } }
  model(id: $m) { activities(first: 1000) { nodes { uid name identification subActivities { uid } } } } }`;
const ROW = 20;
const LABEL = 230;
const DAY_MS = 86_400_000;

export class Gantt {
  constructor(root, title, api, report) {
    Object.assign(this, { root, title, api, report });
  }

  async show(model) {
    this.model = model;
    let schedules;
    try {
      schedules = (await this.api.query(SCHEDULES, { m: model })).model?.schedules || [];
    } catch (error) {
      this.report(error.message);
      return;
    }
    if (!schedules.length) {
      this.title.textContent = "";
      this.root.replaceChildren(h("p", { class: "muted" }, "This model has no schedule (kgtwin schedule import)."));
      return;
    }
    // The API names a schedule by its uid, or `ifc` for the one in the IFC file.
    const choices = schedules.map((w) => ({ id: w.uid.includes(":schedule:") ? w.uid : "ifc", name: w.name || w.uid }));
    this.choices = choices;
    this.asOf = null;
    await this.draw(choices[0].id);
  }

  /** The report at the data date `this.asOf` (the end of that day), or now. */
  async draw(schedule) {
    this.schedule = schedule;
    const asOf = this.asOf ? `${this.asOf}T23:59:59Z` : null;
    let data;
    try {
      data = await this.api.query(REPORT, { m: this.model, schedule, asOf });
    } catch (error) {
      this.report(error.message);
      return;
    }
    const r = data.scheduleReport;
    const p = r.project;
    this.title.textContent = "";
    const picker =
      this.choices.length > 1
        ? h(
            "select",
            { onchange: (e) => this.draw(e.target.value), "aria-label": "schedule" },
            this.choices.map((c) => h("option", { value: c.id, selected: c.id === schedule }, c.name)),
          )
        : null;
    const summary = h(
      "div",
      { class: "gantt-summary", dataset: { testid: "schedule-summary" } },
      picker,
      h(
        "label",
        {},
        "as of ",
        h("input", {
          type: "date",
          value: r.asOf.slice(0, 10),
          "aria-label": "data date",
          onchange: (e) => {
            this.asOf = e.target.value || null;
            this.draw(this.schedule);
          },
        }),
      ),
      h("span", {}, `expected ${percent(p.expectedPercent)}`),
      h("span", {}, `actual ${percent(p.actualPercent)}`),
      h("span", {}, `SPI ${p.spi === null ? "–" : number(p.spi, 2)}`),
      h("span", { class: `schedule-status ${p.status}` }, p.status.replace("_", " ")),
      h("span", {}, `planned finish ${day(p.plannedFinish)}`),
      h("span", {}, `forecast finish ${day(r.forecastFinish)}`),
      h("span", { class: "critical-key" }, `critical path: ${r.criticalPath.length} activities`),
    );
    this.root.replaceChildren(summary, chart(r, data.model?.activities.nodes || []));
  }
}

/** Rows: each summary activity followed by its leaves, in planned order; leaves without one after them. */
function rows(report, all) {
  const leaves = new Map(report.activities.map((a) => [a.uid, a]));
  const parent = new Map();
  for (const a of all) for (const child of a.subActivities) parent.set(child.uid, a);
  const groups = new Map();
  for (const leaf of leaves.values()) {
    const up = parent.get(leaf.uid);
    const key = up?.uid || "";
    if (!groups.has(key)) groups.set(key, { summary: up, leaves: [] });
    groups.get(key).leaves.push(leaf);
  }
  const start = (a) => (a.plannedStart ? Date.parse(a.plannedStart) : Infinity);
  const ordered = [...groups.values()].map((g) => {
    g.leaves.sort((a, b) => start(a) - start(b));
    g.start = Math.min(...g.leaves.map(start));
    g.finish = Math.max(...g.leaves.map((a) => Date.parse(a.forecastFinish || a.plannedFinish || 0)));
    return g;
  });
  ordered.sort((a, b) => a.start - b.start);
  return ordered.flatMap((g) => [
    ...(g.summary ? [{ summary: g.summary, start: g.start, finish: g.finish, leaves: g.leaves }] : []),
    ...g.leaves.map((leaf) => ({ leaf })),
  ]);
}

function chart(report, all) {
  const lines = rows(report, all);
  const times = report.activities.flatMap((a) =>
    [a.plannedStart, a.plannedFinish, a.actualStart, a.forecastFinish].filter(Boolean).map(Date.parse),
  );
  times.push(Date.parse(report.asOf));
  const t0 = Math.min(...times) - DAY_MS / 2;
  const t1 = Math.max(...times) + DAY_MS / 2;
  const width = 900;
  const x = (t) => LABEL + ((t - t0) / (t1 - t0)) * (width - LABEL - 10);
  const height = (lines.length + 1) * ROW + 10;
  const step = (t1 - t0) / DAY_MS > 70 ? 7 * DAY_MS : DAY_MS;
  const ticks = [];
  for (let t = Math.ceil(t0 / step) * step; t < t1; t += step) ticks.push(t);
  const every = Math.max(1, Math.ceil(70 / (x(t0 + step) - x(t0)))); // a label at least 70 units from the next
  return s(
    "svg",
    { viewBox: `0 0 ${width} ${height}`, class: "gantt-svg", role: "img", "aria-label": "schedule" },
    ticks.map((t, i) =>
      s(
        "g",
        {},
        s("line", { x1: x(t), x2: x(t), y1: ROW - 4, y2: height, class: "tick" }),
        i % every === 0 ? s("text", { x: x(t) + 2, y: ROW - 8, class: "tick-label" }, day(new Date(t).toISOString())) : null,
      ),
    ),
    lines.map((line, i) => {
      const y = (i + 1) * ROW;
      if (line.summary) {
        const done = line.leaves.reduce((sum, a) => sum + (a.percentComplete || 0), 0) / line.leaves.length;
        return s(
          "g",
          { class: "gantt-summary-row" },
          s("text", { x: 4, y: y + 13, class: "label summary" }, line.summary.name || line.summary.uid),
          s("rect", { x: x(line.start), y: y + 6, width: Math.max(1, x(line.finish) - x(line.start)), height: 6, class: "summary-bar" }),
          s("title", {}, `${line.summary.name}: ${number(done, 0)} % of its activities' progress`),
        );
      }
      const a = line.leaf;
      const start = Date.parse(a.plannedStart);
      const finish = Date.parse(a.plannedFinish);
      const forecast = a.forecastFinish ? Date.parse(a.forecastFinish) : finish;
      const bar = Math.max(2, x(finish) - x(start));
      return s(
        "g",
        {
          class: `gantt-row${a.critical ? " critical" : ""} status-${a.status}`,
          "data-uid": a.uid,
          "data-testid": "gantt-activity",
          "data-critical": String(a.critical),
        },
        s("text", { x: 14, y: y + 13, class: "label" }, `${a.identification ? `${a.identification} ` : ""}${a.name}`),
        forecast > finish
          ? s("line", { x1: x(finish), x2: x(forecast), y1: y + 10, y2: y + 10, class: "forecast" })
          : null,
        s("rect", { x: x(start), y: y + 3, width: bar, height: ROW - 6, class: "planned" }),
        s("rect", {
          x: x(start),
          y: y + 3,
          width: (bar * Math.min(100, a.percentComplete || 0)) / 100,
          height: ROW - 6,
          class: "progress",
        }),
        s(
          "title",
          {},
          `${a.name}: ${day(a.plannedStart)} – ${day(a.plannedFinish)}, ${number(a.percentComplete, 0)} % done ` +
            `(${number(a.expectedPercent, 0)} % expected, ${a.status.replace("_", " ")})` +
            `${a.critical ? ", critical" : `, float ${number(a.totalFloatHours, 0)} h`}`,
        ),
      );
    }),
    s("line", { x1: x(Date.parse(report.asOf)), x2: x(Date.parse(report.asOf)), y1: ROW - 4, y2: height, class: "data-date" }),
  );
}
