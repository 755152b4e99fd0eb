/* The desk map: our own basemap outlines, the desk's features clustered, a legend.
 *
 * Everything comes from this origin (the page's CSP allows nothing else, but a tile server an
 * admin configured). Names in popups come from imported registers and from staff: they are
 * always set as text (textContent), never as HTML.
 */
(function () {
  "use strict";

  var el = document.getElementById("map");
  if (!el || !window.L) {
    return;
  }
  var L = window.L;
  var form = document.getElementById("map-filters");
  var statusLine = document.getElementById("map-status");
  var featuresUrl = el.dataset.features;

  var COLOURS = {
    site: "#d97706",
    siteArmed: "#b91c1c",
    geotag: "#2563eb",
    "case": "#7c3aed",
    cluster: "#374151"
  };
  var LEGEND = [
    ["site", "Mine site"],
    ["site-armed", "Mine site, armed presence seen"],
    ["geotag", "Geotag (evidence)"],
    ["case", "Case"],
    ["cluster", "Many sites (zoom in)"]
  ];
  var BASEMAP_STYLES = {
    land: { color: "#8a8a7a", weight: 0.6, fillColor: "#f4f1e8", fillOpacity: 1, fillRule: "evenodd" },
    lakes: { color: "#6f9cbd", weight: 0.6, fillColor: "#b9d3e6", fillOpacity: 1 },
    countries: { color: "#4b4b4b", weight: 1.2, fill: false },
    provinces: { color: "#9a9a9a", weight: 0.7, dashArray: "3 3", fill: false }
  };

  var map = L.map(el, { minZoom: 2, maxZoom: 18, worldCopyJump: false });
  map.attributionControl.setPrefix(false);
  map.attributionControl.addAttribution("Outlines: Natural Earth (public domain)");

  // -- the basemap: our own outlines, under everything else, never clickable --------------
  map.createPane("basemap");
  map.getPane("basemap").style.zIndex = "250";
  map.getPane("basemap").style.pointerEvents = "none";
  var basemapRenderer = L.svg({ pane: "basemap" });

  // Fetched together, drawn in the page's order (land, lakes, borders, provinces), whichever
  // arrives first: a lake drawn before the land would be hidden under it.
  var basemapUrls = (el.dataset.basemap || "").split(" ").filter(Boolean);
  Promise.all(basemapUrls.map(function (url) {
    return fetch(url, { credentials: "same-origin" }).then(function (response) {
      if (!response.ok) {
        throw new Error("basemap " + url + ": " + response.status);
      }
      return response.json();
    });
  }))
    .then(function (layers) {
      layers.forEach(function (data, index) {
        var name = basemapUrls[index].split("?")[0].split("/").pop().replace(".geojson", "");
        L.geoJSON(data, {
          style: BASEMAP_STYLES[name] || {},
          pane: "basemap",
          renderer: basemapRenderer,
          interactive: false
        }).addTo(map);
      });
      el.dataset.basemapLoaded = String(layers.length);
    })
    .catch(function () {
      showStatus("The basemap could not be loaded.");
    });

  if (el.dataset.tiles) {
    // Only when an admin configured a tile server (map_tile_url): the CSP allows its images.
    L.tileLayer(el.dataset.tiles, { maxZoom: 18 }).addTo(map);
  }

  // -- the features -------------------------------------------------------------------------
  var clusters = L.markerClusterGroup({ showCoverageOnHover: false, chunkedLoading: true });
  var gridClusters = L.layerGroup();
  map.addLayer(clusters);
  map.addLayer(gridClusters);

  function text(tag, content, className) {
    var node = document.createElement(tag);
    node.textContent = content;
    if (className) {
      node.className = className;
    }
    return node;
  }

  function sameOrigin(url) {
    return typeof url === "string" && url.charAt(0) === "/" && url.charAt(1) !== "/";
  }

  function presence(value) {
    if (value === true) {
      return "seen";
    }
    return value === false ? "not seen" : "unknown";
  }

  function popupFor(props) {
    var box = document.createElement("div");
    box.className = "map-popup";
    box.appendChild(text("strong", String(props.name)));
    var facts = document.createElement("dl");
    function fact(term, value) {
      facts.appendChild(text("dt", term));
      facts.appendChild(text("dd", value));
    }
    if (props.layer === "site") {
      fact("Minerals", (props.minerals || []).join(", ") || "—");
      fact("Armed presence", presence(props.armed_presence));
      fact("Last visit", props.last_visit_date || "—");
    } else if (props.layer === "geotag") {
      fact("Precision", props.precision_m == null ? "—" : props.precision_m + " m");
      fact("Method", String(props.method || "—"));
    } else if (props.layer === "cluster") {
      fact("Sites", String(props.count));
    }
    box.appendChild(facts);
    if (sameOrigin(props.url)) {
      var link = text("a", props.layer === "cluster" ? "Zoom to these" : "Open");
      link.href = props.url;
      box.appendChild(link);
    }
    return box;
  }

  function colourFor(props) {
    if (props.layer === "site" && props.armed_presence === true) {
      return COLOURS.siteArmed;
    }
    return COLOURS[props.layer] || COLOURS.site;
  }

  function markerFor(feature) {
    var coords = feature.geometry.coordinates;
    var latlng = L.latLng(coords[1], coords[0]);
    var props = feature.properties;
    var marker;
    if (props.layer === "cluster") {
      var label = text("span", String(props.count));
      marker = L.marker(latlng, {
        icon: L.divIcon({ className: "map-grid-cluster", html: label, iconSize: [36, 36] }),
        keyboard: true,
        title: String(props.count) + " sites"
      });
      marker.on("click", function () {
        map.setView(latlng, Math.min(map.getZoom() + 2, map.getMaxZoom()));
      });
      return marker;
    }
    marker = L.circleMarker(latlng, {
      radius: 7,
      color: "#222",
      weight: 1,
      fillColor: colourFor(props),
      fillOpacity: 0.9,
      className: "map-marker map-marker-" + props.layer
    });
    marker.bindPopup(function () {
      return popupFor(props);
    });
    return marker;
  }

  function showStatus(message) {
    statusLine.textContent = message;
  }

  function bboxText() {
    var b = map.getBounds();
    var west = Math.max(-180, b.getWest());
    var east = Math.min(180, b.getEast());
    var south = Math.max(-90, b.getSouth());
    var north = Math.min(90, b.getNorth());
    if (!(west < east)) {
      west = -180;
      east = 180;
    }
    return [west, south, east, north].map(function (v) {
      return v.toFixed(5);
    }).join(",");
  }

  function filterParams() {
    var params = new URLSearchParams();
    if (form) {
      new FormData(form).forEach(function (value, key) {
        if (key !== "bbox" && value) {
          params.set(key, value);
        }
      });
    }
    return params;
  }

  var pending = null;
  var fitted = Boolean(el.dataset.bbox);

  function draw(collection) {
    clusters.clearLayers();
    gridClusters.clearLayers();
    var points = [];
    collection.features.forEach(function (feature) {
      var marker = markerFor(feature);
      if (feature.properties.layer === "cluster") {
        gridClusters.addLayer(marker);
      } else {
        points.push(marker);
      }
    });
    clusters.addLayers(points);
    el.dataset.shown = String(collection.features.length);
    var count = collection.features.length;
    if (collection.truncated) {
      showStatus("Too many to show one by one here: counts per area are shown. Zoom in.");
    } else {
      showStatus(count + (count === 1 ? " feature" : " features") + " in view.");
    }
    if (!fitted && points.length) {
      fitted = true;
      map.fitBounds(L.featureGroup(points).getBounds().pad(0.1), { maxZoom: 9 });
    }
  }

  function refresh() {
    if (pending) {
      pending.abort();
    }
    pending = new AbortController();
    var params = filterParams();
    params.set("bbox", bboxText());
    var hidden = form && form.querySelector("input[name=bbox]");
    if (form && !hidden) {
      hidden = document.createElement("input");
      hidden.type = "hidden";
      hidden.name = "bbox";
      form.appendChild(hidden);
    }
    if (hidden) {
      hidden.value = params.get("bbox");
    }
    fetch(featuresUrl + "?" + params.toString(), {
      credentials: "same-origin",
      signal: pending.signal,
      headers: { Accept: "application/geo+json" }
    })
      .then(function (response) {
        return response.json().then(function (body) {
          return { ok: response.ok, body: body };
        });
      })
      .then(function (result) {
        if (!result.ok) {
          showStatus(result.body.message || "The map could not load its features.");
          return;
        }
        draw(result.body);
      })
      .catch(function (error) {
        if (error.name !== "AbortError") {
          showStatus("The map could not load its features.");
        }
      });
  }

  // -- the legend -------------------------------------------------------------------------
  var legend = L.control({ position: "bottomright" });
  legend.onAdd = function () {
    var box = document.createElement("div");
    box.className = "map-legend";
    var list = document.createElement("ul");
    LEGEND.forEach(function (entry) {
      var item = document.createElement("li");
      item.appendChild(text("span", "", "swatch swatch-" + entry[0]));
      item.appendChild(document.createTextNode(entry[1]));
      list.appendChild(item);
    });
    box.appendChild(list);
    return box;
  };
  legend.addTo(map);

  // -- start --------------------------------------------------------------------------------
  if (el.dataset.bbox) {
    var b = el.dataset.bbox.split(",").map(Number);
    map.fitBounds([[b[1], b[0]], [b[3], b[2]]]);
  } else {
    map.setView([0, 20], 3);
  }
  map.on("moveend", refresh);
  if (form) {
    form.addEventListener("change", refresh);
  }
  refresh();
})();
