// name: kpis/elements
// mode: read
// params: {"model": "demo", "building": null, "storey": null, "space": null, "elementType": null, "ifcClass": null, "excluded": ["IfcOpeningElement", "IfcVirtualElement"]}
// purpose: Element counts, volumes and areas per place, status and IFC class in a scope: what status and progress KPIs roll up from.
MATCH (e:Element)
WHERE e.model = $model
  AND ($building IS NULL OR e.building = $building)
  AND ($storey IS NULL OR e.storey = $storey)
  AND ($space IS NULL OR e.space = $space)
  AND ($elementType IS NULL OR e.elementType = $elementType)
  AND ($ifcClass IS NULL OR e.ifcClass = $ifcClass)
  AND NOT e.ifcClass IN $excluded
  AND NOT 'Point' IN labels(e)
WITH e, [k IN keys(e) WHERE k STARTS WITH 'pset.' AND (k ENDS WITH '.NetVolume' OR k ENDS WITH '.GrossVolume') | e[k]] AS volumes,
     [k IN keys(e) WHERE k STARTS WITH 'pset.' AND (k ENDS WITH '.NetSideArea' OR k ENDS WITH '.NetArea' OR k ENDS WITH '.NetFloorArea' OR k ENDS WITH '.GrossArea') | e[k]] AS areas
RETURN e.building AS building, e.storey AS storey, e.space AS space, coalesce(e.status, 'planned') AS status,
       e.ifcClass AS ifcClass, count(*) AS count, sum(coalesce(head(volumes), 0.0)) AS volume,
       sum(coalesce(head(areas), 0.0)) AS area, sum(CASE WHEN size(volumes) > 0 THEN 1 ELSE 0 END) AS withVolume,
       sum(CASE WHEN size(areas) > 0 THEN 1 ELSE 0 END) AS withArea
