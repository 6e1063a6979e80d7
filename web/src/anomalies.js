// The live anomaly feed: open and acknowledged anomalies of the model, kept current by the `anomalies`
// subscription, with acknowledge and resolve buttons (operators' mutations).
import { h, when } from "./dom.js";

const FIELDS = "uid kind severity state message value start lastSeen point { uid pointId name unit }";
const OPEN = `query($m: ID!) { model(id: $m) { anomalies(states: [OPEN, ACKNOWLEDGED], first: 100) {
  totalCount nodes { ${FIELDS} } } } }`;
const LIVE = `subscription($m: ID) { anomalies(model: $m) { event { kind time } anomalyUid anomaly { ${FIELDS} } } }`;
const ACTIONS = {
  acknowledge: `mutation($uid: ID!, $note: String) { acknowledgeAnomaly(uid: $uid, note: $note) { ${FIELDS} } }`,
  resolve: `mutation($uid: ID!, $note: String) { resolveAnomaly(uid: $uid, note: $note) { ${FIELDS} } }`,
};
const SEVERITY_ORDER = ["critical", "high", "major", "warning", "medium", "minor", "low", "info"];

export class AnomalyFeed {
  constructor(root, count, api, report, onPoint, onChange) {
    this.root = root;
    this.count = count;
    this.api = api;
    this.report = report;
    this.onPoint = onPoint;
    this.onChange = onChange;
    this.items = new Map();
    this.stop = null;
  }

  async show(model) {
    this.stop?.();
    this.items.clear();
    this.model = model;
    // Subscribe first, so nothing opened between the list and the subscription is missed.
    this.stop = this.api.subscribe(
      LIVE,
      { m: model },
      (data) => {
        const anomaly = data.anomalies.anomaly;
        if (anomaly) this.upsert(anomaly, true);
        this.onChange();
      },
      (message) => this.report(`anomaly feed: ${message}`),
    );
    try {
      const data = await this.api.query(OPEN, { m: model });
      for (const anomaly of data.model?.anomalies.nodes || []) this.upsert(anomaly, false);
    } catch (error) {
      this.report(error.message);
    }
    this.render();
  }

  upsert(anomaly, fresh) {
    const known = this.items.get(anomaly.uid);
    this.items.set(anomaly.uid, { ...anomaly, fresh: fresh && !known });
    this.render();
  }

  async act(action, anomaly) {
    try {
      const data = await this.api.query(ACTIONS[action], { uid: anomaly.uid, note: `${action}d from the dashboard` });
      const changed = data[`${action}Anomaly`];
      if (changed) this.upsert(changed, false);
    } catch (error) {
      this.report(`${action} ${anomaly.uid}: ${error.message}`);
    }
  }

  render() {
    const anomalies = [...this.items.values()].sort(
      (a, b) => (b.lastSeen || b.start || "").localeCompare(a.lastSeen || a.start || "") || a.uid.localeCompare(b.uid),
    );
    const open = anomalies.filter((a) => a.state !== "resolved").length;
    this.count.textContent = `${open} open or acknowledged · live`;
    if (!anomalies.length) {
      this.root.replaceChildren(h("li", { class: "empty" }, "No open anomalies."));
      return;
    }
    this.root.replaceChildren(...anomalies.map((a) => this.item(a)));
  }

  item(a) {
    const severity = (a.severity || "info").toLowerCase();
    const rank = SEVERITY_ORDER.indexOf(severity);
    return h(
      "li",
      {
        class: `anomaly state-${a.state} severity-${severity}${a.fresh ? " fresh" : ""}`,
        dataset: { uid: a.uid, state: a.state, testid: "anomaly" },
      },
      h(
        "div",
        { class: "anomaly-head" },
        h("span", { class: `badge rank-${rank < 0 ? 9 : rank}` }, severity),
        h("span", { class: "anomaly-kind" }, a.kind || "anomaly"),
        h("span", { class: "anomaly-state", dataset: { testid: "anomaly-state" } }, a.state),
      ),
      h("div", { class: "anomaly-message" }, a.message || ""),
      h(
        "div",
        { class: "anomaly-meta" },
        a.point
          ? h(
              "a",
              { href: "#", onclick: (e) => (e.preventDefault(), this.onPoint(a.point)) },
              a.point.name || a.point.pointId || a.point.uid,
            )
          : null,
        ` · since ${when(a.start)}`,
        a.lastSeen && a.lastSeen !== a.start ? ` · last ${when(a.lastSeen)}` : "",
      ),
      h(
        "div",
        { class: "anomaly-actions" },
        a.state === "open"
          ? h("button", { onclick: () => this.act("acknowledge", a), dataset: { testid: "acknowledge" } }, "Acknowledge")
          : null,
        a.state !== "resolved"
          ? h("button", { onclick: () => this.act("resolve", a), dataset: { testid: "resolve" } }, "Resolve")
          : null,
      ),
    );
  }
}
