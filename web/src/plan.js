// A storey's plan: its spaces drawn from their footprints, coloured by the status of the elements in
// and around them, or as a heatmap of a chosen sensor class's latest values (kept live by the
// `observations` subscription).
import { h, number, s, STATUS_COLOURS } from "./dom.js";

const QUERY = `query($uid: ID!) { node(uid: $uid) { ... on Storey { uid name elevation footprint
  spaces(first: 500) { totalCount nodes { uid name longName footprint building: property(key: "building")
    boundaries(first: 100) { nodes { uid status } } elements(first: 100) { nodes { uid status } } } }
  points(first: 1000) { nodes { uid pointId name brickClass unit lastValue lastTime space: property(key: "space") } }
} } }`;
const LIVE = "subscription($points: [ID!]!) { observations(points: $points) { point value } }";
const STATUS_MODE = "status";
const HEAT = ["#2c7bb6", "#abd9e9", "#ffffbf", "#fdae61", "#d7191c"]; // cool to hot

export class StoreyPlan {
  constructor(root, title, modes, legend, api, report, onSelect) {
    Object.assign(this, { root, title, modes, legend, api, report, onSelect });
    this.mode = STATUS_MODE;
    this.stop = null;
    modes.addEventListener("change", () => {
      this.mode = modes.value;
      this.paint();
    });
  }

  /** Draw storey `uid` (again, e.g. after a status change) and mark `selected` (a space uid). */
  async show(uid, selected = null) {
    this.selected = selected;
    this.wanted = uid; // a slower answer for an earlier storey must not draw over this one
    if (!uid) {
      this.storey = null;
      this.title.textContent = "";
      this.root.replaceChildren(h("p", { class: "muted" }, "Select a storey, a room or an element."));
      this.legend.replaceChildren();
      return;
    }
    let storey;
    try {
      storey = (await this.api.query(QUERY, { uid })).node;
    } catch (error) {
      this.report(error.message);
      return;
    }
    if (!storey || this.wanted !== uid) return;
    this.storey = storey;
    this.title.textContent = `· ${storey.name}`;
    this.points = storey.points.nodes.filter((p) => p.space);
    const classes = [...new Set(this.points.map((p) => p.brickClass).filter(Boolean))].sort();
    if (this.mode !== STATUS_MODE && !classes.includes(this.mode)) this.mode = STATUS_MODE;
    this.modes.replaceChildren(
      h("option", { value: STATUS_MODE }, "element status"),
      ...classes.map((c) => h("option", { value: c }, `latest ${c.replaceAll("_", " ")}`)),
    );
    this.modes.value = this.mode;
    this.paint();
  }

  paint() {
    this.stop?.();
    this.stop = null;
    const storey = this.storey;
    if (!storey) return;
    const spaces = storey.spaces.nodes.filter((space) => space.footprint);
    if (!spaces.length) {
      this.root.replaceChildren(
        h("p", { class: "muted" }, `${storey.name} has no spaces with a footprint (the model gives them no shape).`),
      );
      this.legend.replaceChildren();
      return;
    }
    const colour = this.mode === STATUS_MODE ? this.statusColours(spaces) : this.heatColours(spaces);
    this.draw(spaces, colour);
    if (this.mode !== STATUS_MODE) this.follow(spaces);
  }

  statusColours(spaces) {
    const colours = new Map();
    for (const space of spaces) {
      const seen = new Map();
      for (const e of [...space.boundaries.nodes, ...space.elements.nodes]) seen.set(e.uid, (e.status || "PLANNED").toLowerCase());
      const statuses = [...seen.values()];
      const done = statuses.filter((x) => x === "completed").length;
      let state = "planned";
      if (statuses.includes("issue")) state = "issue";
      else if (statuses.length && done === statuses.length) state = "completed";
      else if (done || statuses.includes("in_progress")) state = "in_progress";
      colours.set(space.uid, {
        fill: STATUS_COLOURS[state],
        value: state,
        note: `${done}/${statuses.length} done`,
      });
    }
    this.legend.replaceChildren(
      ...Object.entries(STATUS_COLOURS).map(([state, fill]) =>
        h("span", { class: "legend-item" }, h("span", { class: "swatch", style: `background:${fill}` }), state.replace("_", " ")),
      ),
      h("span", { class: "muted" }, " (of the elements in and bounding each room)"),
    );
    return colours;
  }

  heatColours(spaces) {
    const values = this.spaceValues();
    const known = [...values.values()];
    const low = Math.min(...known);
    const high = Math.max(...known);
    const unit = this.points.find((p) => p.brickClass === this.mode)?.unit || "";
    const colours = new Map();
    for (const space of spaces) {
      const value = values.get(space.uid);
      colours.set(space.uid, {
        fill: value === undefined ? "#eeeeee" : heat(high > low ? (value - low) / (high - low) : 0.5),
        value: value === undefined ? "no reading" : `${number(value, 1)} ${unit}`,
        note: "",
      });
    }
    this.legend.replaceChildren(
      h("span", {}, known.length ? `${number(low, 1)} ${unit}` : "no readings yet"),
      h("span", { class: "gradient", style: `background:linear-gradient(to right, ${HEAT.join(",")})` }),
      h("span", {}, known.length ? `${number(high, 1)} ${unit}` : ""),
    );
    return colours;
  }

  /** The average latest value of the chosen class's points in each space. */
  spaceValues() {
    const sums = new Map();
    for (const p of this.points) {
      if (p.brickClass !== this.mode || p.lastValue === null || p.lastValue === undefined) continue;
      const [sum, n] = sums.get(p.space) || [0, 0];
      sums.set(p.space, [sum + p.lastValue, n + 1]);
    }
    return new Map([...sums].map(([space, [sum, n]]) => [space, sum / n]));
  }

  follow(spaces) {
    const chosen = this.points.filter((p) => p.brickClass === this.mode);
    if (!chosen.length) return;
    const byUid = new Map(chosen.map((p) => [p.uid, p]));
    const mode = this.mode;
    this.stop = this.api.subscribe(
      LIVE,
      { points: [...byUid.keys()] },
      (data) => {
        const point = byUid.get(data.observations.point);
        if (!point || this.mode !== mode) return;
        point.lastValue = data.observations.value;
        this.draw(spaces, this.heatColours(spaces));
      },
      (message) => this.report(`plan: ${message}`),
    );
  }

  draw(spaces, colours) {
    const boxes = spaces.map((space) => space.footprint);
    const [x0, y0, x1, y1] = this.storey.footprint || [
      Math.min(...boxes.map((b) => b[0])),
      Math.min(...boxes.map((b) => b[1])),
      Math.max(...boxes.map((b) => b[2])),
      Math.max(...boxes.map((b) => b[3])),
    ];
    const margin = Math.max(x1 - x0, y1 - y0) * 0.03;
    const text = Math.max(0.25, Math.min(x1 - x0, y1 - y0) / 30);
    // Plans have y up (north); SVG has y down: flip about the storey's box.
    const flip = (y) => y0 + y1 - y;
    const svg = s(
      "svg",
      {
        viewBox: `${x0 - margin} ${y0 - margin} ${x1 - x0 + 2 * margin} ${y1 - y0 + 2 * margin}`,
        class: "plan-svg",
        role: "img",
        "aria-label": `plan of ${this.storey.name}`,
      },
      spaces.map((space) => {
        const [a, b, c, d] = space.footprint;
        const colour = colours.get(space.uid);
        const size = Math.min(c - a, d - b);
        return s(
          "g",
          {
            class: `plan-space${space.uid === this.selected ? " selected" : ""}`,
            "data-uid": space.uid,
            "data-testid": "plan-space",
            "data-value": colour.value,
            "data-fill": colour.fill,
            onclick: () => this.onSelect(space),
          },
          s("rect", {
            x: a,
            y: flip(d),
            width: c - a,
            height: d - b,
            fill: colour.fill,
            stroke: "#333",
            "stroke-width": 0.06,
          }),
          s("text", { x: (a + c) / 2, y: flip(d) + (d - b) / 2, "font-size": Math.min(text, size / 4), "text-anchor": "middle" },
            space.name || ""),
          s("text", { x: (a + c) / 2, y: flip(d) + (d - b) / 2 + Math.min(text, size / 4) * 1.2, "font-size": Math.min(text, size / 4) * 0.8, "text-anchor": "middle", class: "plan-value" },
            colour.note || colour.value),
          s("title", {}, `${space.name}${space.longName ? ` ${space.longName}` : ""}: ${colour.value} ${colour.note}`),
        );
      }),
    );
    this.root.replaceChildren(svg);
  }
}

function heat(fraction) {
  const at = Math.max(0, Math.min(1, fraction)) * (HEAT.length - 1);
  const i = Math.min(HEAT.length - 2, Math.floor(at));
  const mix = at - i;
  const [a, b] = [rgb(HEAT[i]), rgb(HEAT[i + 1])];
  return `rgb(${a.map((v, k) => Math.round(v + (b[k] - v) * mix)).join(",")})`;
}

function rgb(hex) {
  return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
}
