// The spatial tree: model → buildings → storeys → spaces → elements, each level fetched when it is
// opened, a page at a time (Relay connections: `first`, `after`, `pageInfo`).
import { h, STATUS_COLOURS } from "./dom.js";

const PAGE = 50;
const PAGE_INFO = "totalCount pageInfo { hasNextPage endCursor }";
const ELEMENT_FIELDS = "uid name ifcClass status storey: property(key: \"storey\") space: property(key: \"space\")";

// What each level lists when it is opened, and what its children are.
const CHILDREN = {
  model: {
    query: `query($m: ID!, $first: Int, $after: String) { model(id: $m) { buildings(first: $first, after: $after) {
      ${PAGE_INFO} nodes { uid name } } } }`,
    pick: (data) => data.model.buildings,
    level: "building",
  },
  building: {
    query: `query($uid: ID!, $first: Int, $after: String) { node(uid: $uid) { ... on Building {
      storeys(first: $first, after: $after) { ${PAGE_INFO} nodes { uid name elevation } } } } }`,
    pick: (data) => data.node.storeys,
    level: "storey",
  },
  storey: {
    query: `query($uid: ID!, $first: Int, $after: String) { node(uid: $uid) { ... on Storey {
      spaces(first: $first, after: $after) { ${PAGE_INFO} nodes { uid name longName } } } } }`,
    pick: (data) => data.node.spaces,
    level: "space",
  },
  storeyElements: {
    query: `query($uid: ID!, $first: Int, $after: String) { node(uid: $uid) { ... on Storey {
      elements(first: $first, after: $after) { ${PAGE_INFO} nodes { ${ELEMENT_FIELDS} } } } } }`,
    pick: (data) => data.node.elements,
    level: "element",
  },
  space: {
    query: `query($uid: ID!, $first: Int, $after: String) { node(uid: $uid) { ... on Space {
      elements(first: $first, after: $after) { ${PAGE_INFO} nodes { ${ELEMENT_FIELDS} } } } } }`,
    pick: (data) => data.node.elements,
    level: "element",
  },
};

export class SpatialTree {
  constructor(root, api, report, onSelect) {
    this.root = root;
    this.api = api;
    this.report = report;
    this.onSelect = onSelect;
    this.selectedRow = null;
  }

  async show(model) {
    this.model = model;
    this.root.replaceChildren();
    const top = this.item({ level: "model", uid: model, name: `Model ${model}`, model }, true);
    this.root.append(top);
    await this.expand(top);
    const firstBuilding = top.querySelector("li");
    if (firstBuilding) await this.expand(firstBuilding);
    this.choose(top);
  }

  item(place, expandable) {
    const li = h("li", { role: "treeitem", "aria-expanded": expandable ? "false" : undefined });
    li.place = place;
    li.children_ = null;
    const label = place.name || place.uid;
    const row = h(
      "div",
      { class: `tree-row level-${place.level}`, dataset: { uid: place.uid, level: place.level } },
      h("button", { class: "toggle", "aria-label": "open", onclick: () => this.toggle(li) }, expandable ? "▸" : ""),
      h(
        "span",
        { class: "tree-label", onclick: () => (place.level === "storeyElements" ? this.toggle(li) : this.choose(li)) },
        label,
      ),
      place.level === "element"
        ? h("span", { class: "tree-meta" }, place.ifcClass || "", " ", statusDot(place.status))
        : null,
    );
    li.append(row);
    return li;
  }

  choose(li) {
    this.mark(li.place.uid);
    this.onSelect(li.place);
  }

  /** Highlight the row of `uid` when the tree shows it (a selection may come from the plan). */
  mark(uid) {
    this.selectedRow?.classList.remove("selected");
    this.selectedRow = this.root.querySelector(`.tree-row[data-uid="${CSS.escape(uid)}"]:not(.level-storeyElements)`);
    this.selectedRow?.classList.add("selected");
  }

  async toggle(li) {
    if (li.getAttribute("aria-expanded") === "true") {
      li.setAttribute("aria-expanded", "false");
      li.querySelector(":scope > ul")?.remove();
      li.firstChild.querySelector(".toggle").textContent = "▸";
      return;
    }
    await this.expand(li);
  }

  async expand(li) {
    const list = h("ul", { role: "group" });
    li.querySelector(":scope > ul")?.remove();
    li.append(list);
    li.setAttribute("aria-expanded", "true");
    li.firstChild.querySelector(".toggle").textContent = "▾";
    const place = li.place;
    await this.page(list, place.level, place);
    if (place.level === "storey") {
      const group = this.item({ ...place, level: "storeyElements", name: "All elements of the storey" }, true);
      list.append(group);
    }
  }

  async page(list, kind, parent, after = null) {
    const spec = CHILDREN[kind];
    if (!spec) return;
    let connection;
    try {
      const data = await this.api.query(spec.query, { m: this.model, uid: parent.uid, first: PAGE, after });
      connection = spec.pick(data);
    } catch (error) {
      this.report(error.message);
      return;
    }
    for (const node of connection.nodes) {
      const place = {
        ...node,
        level: spec.level,
        model: this.model,
        building: spec.level === "storey" ? parent.uid : parent.building,
        storey: spec.level === "space" ? parent.uid : node.storey || parent.storey,
      };
      if (spec.level === "building") place.building = node.uid;
      if (spec.level === "storey") place.storey = node.uid;
      if (spec.level === "space") place.space = node.uid;
      list.append(this.item(place, spec.level !== "element"));
    }
    if (connection.pageInfo.hasNextPage) {
      const shown = list.querySelectorAll(":scope > li:not(.more)").length;
      const more = h(
        "li",
        { class: "more" },
        h(
          "button",
          {
            onclick: async () => {
              more.remove();
              await this.page(list, kind, parent, connection.pageInfo.endCursor);
            },
          },
          `more… (${shown} of ${connection.totalCount})`,
        ),
      );
      list.append(more);
    }
  }
}

function statusDot(status) {
  const value = (status || "planned").toLowerCase();
  return h("span", { class: "dot", title: value, style: `background:${STATUS_COLOURS[value] || "#999"}` });
}
