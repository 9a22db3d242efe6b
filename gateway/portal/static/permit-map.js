/* The permit pages' maps (Leaflet, no tiles: the twin's own GeoJSON on a plain background).
   On the form: parcels and zoning areas of the visible area, and a footprint drawn by clicking its
   corners, written into the footprint field as "lon lat" lines (the field works without this).
   On a decision: the footprint, parcels, zoning areas and evidence the page lists in text too. */
(function () {
  "use strict";
  var STYLES = {
    parcel: {color: "#4a5560", weight: 1, fillColor: "#e3e7eb", fillOpacity: 0.4},
    zoning: {color: "#00518a", weight: 2, fillColor: "#d6e6f3", fillOpacity: 0.2},
    building: {color: "#1b1f24", weight: 1, fillColor: "#6b7682", fillOpacity: 0.6},
    footprint: {color: "#a4161a", weight: 3, fillColor: "#a4161a", fillOpacity: 0.15},
    evidence: {color: "#b35c00", weight: 3, dashArray: "6 4", fillColor: "#fbe3c8", fillOpacity: 0.5}
  };
  var MAX_SPAN = 0.06; // degrees: the largest box /permits/map.geojson answers

  function style(feature) { return STYLES[feature.properties.kind] || STYLES.parcel; }

  function label(feature, layer) {
    // A text node: names come from the twin's data and must never be read as HTML.
    if (feature.properties.label) { layer.bindTooltip(document.createTextNode(String(feature.properties.label))); }
  }

  function words(text, values) {
    return text.replace(/\{(\w+)\}/g, function (all, name) { return name in values ? values[name] : all; });
  }

  function cornersOf(text) {
    var corners = [];
    text.split("\n").forEach(function (line) {
      var parts = line.replace(/,/g, " ").trim().split(/\s+/).map(Number);
      if (parts.length === 2 && parts.every(isFinite) && Math.abs(parts[0]) <= 180 && Math.abs(parts[1]) <= 90) {
        corners.push(parts);
      }
    });
    return corners;
  }

  function drawing(el) {
    document.getElementById("permit-map-tools").hidden = false;
    var field = document.getElementById(el.dataset.footprint);
    var status = document.getElementById("permit-map-status");
    var map = L.map(el, {attributionControl: true, keyboard: true});
    var start = el.dataset.start.split(",").map(Number);
    if (start.length === 4 && start.every(isFinite)) {
      map.fitBounds([[start[1], start[0]], [start[3], start[2]]]);
    } else {
      map.setView([52.1, 5.3], 8);
    }
    var twin = L.geoJSON(null, {style: style, onEachFeature: label}).addTo(map);
    var outline = L.polygon([], STYLES.footprint).addTo(map);
    var markers = L.layerGroup().addTo(map);
    var corners = cornersOf(field.value);

    function show() {
      outline.setLatLngs(corners.map(function (c) { return [c[1], c[0]]; }));
      markers.clearLayers();
      corners.forEach(function (c) {
        L.circleMarker([c[1], c[0]], {radius: 5, color: STYLES.footprint.color, interactive: false}).addTo(markers);
      });
    }
    function changed() {
      field.value = corners.map(function (c) { return c[0].toFixed(7) + " " + c[1].toFixed(7); }).join("\n");
      show();
      status.textContent = words(el.dataset.corners, {count: corners.length});
    }
    map.on("click", function (event) {
      corners.push([event.latlng.lng, event.latlng.lat]);
      changed();
    });
    document.getElementById("permit-map-undo").addEventListener("click", function () { corners.pop(); changed(); });
    document.getElementById("permit-map-clear").addEventListener("click", function () { corners = []; changed(); });
    field.addEventListener("input", function () { corners = cornersOf(field.value); show(); });

    var asked = 0;
    function load() {
      var b = map.getBounds();
      if (b.getEast() - b.getWest() > MAX_SPAN || b.getNorth() - b.getSouth() > MAX_SPAN) {
        twin.clearLayers();
        status.textContent = el.dataset.zoomIn;
        return;
      }
      var bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (n) { return n.toFixed(6); });
      var mine = ++asked;
      status.textContent = el.dataset.loading;
      fetch(el.dataset.features + "?bbox=" + bbox.join(","), {credentials: "same-origin", headers: {accept: "application/geo+json"}})
        .then(function (response) { return response.ok ? response.json() : Promise.reject(response.status); })
        .then(function (collection) {
          if (mine !== asked) { return; }
          twin.clearLayers();
          twin.addData(collection);
          var count = {parcel: 0, zoning: 0, building: 0};
          collection.features.forEach(function (f) { count[f.properties.kind] = (count[f.properties.kind] || 0) + 1; });
          status.textContent = words(el.dataset.shown, count) + (collection.truncated ? " " + el.dataset.truncated : "");
          outline.bringToFront();
        })
        .catch(function () { if (mine === asked) { status.textContent = el.dataset.failed; } });
    }
    map.on("moveend", load);
    show();
    load();
  }

  function decision(el) {
    el.hidden = false;
    var collection = JSON.parse(el.dataset.geojson);
    var map = L.map(el, {attributionControl: true, keyboard: true});
    var all = L.geoJSON(collection, {style: style, onEachFeature: label}).addTo(map);
    var focus = L.geoJSON(collection.features.filter(function (f) {
      return f.properties.kind === "footprint" || f.properties.kind === "evidence";
    }));
    var bounds = focus.getLayers().length ? focus.getBounds() : all.getBounds();
    map.fitBounds(bounds.pad(0.5));
    all.eachLayer(function (layer) {
      if (layer.feature.properties.kind !== "parcel" && layer.feature.properties.kind !== "zoning") { layer.bringToFront(); }
    });
  }

  var form = document.getElementById("permit-map");
  if (form && window.L) { drawing(form); }
  var result = document.getElementById("decision-map");
  if (result && window.L) { decision(result); }
}());
