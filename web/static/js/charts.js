// Draws the account's charts with uPlot from the JSON in data-chart:
// {"t": [unix seconds], "v": [roubles], "threshold": roubles|null,
//  "forecast": [[t, v], ...]|null (a step down on each charge date), "labels": {...},
//  "unit": "ГБ"|absent}. With "unit" the values are amounts of that unit (package
//  remainders), not money.
(function () {
  "use strict";

  function moneyText(value, lang) {
    if (value == null) { return "—"; }
    var text = Math.abs(value).toLocaleString(lang === "en" ? "en-GB" : "ru-RU", {
      minimumFractionDigits: 0, maximumFractionDigits: 2
    });
    var sign = value < 0 ? "−" : "";
    return lang === "en" ? sign + "₽" + text : sign + text + "\u00a0₽";
  }

  function amount(value, lang, unit) {
    if (value == null) { return "—"; }
    return value.toLocaleString(lang === "en" ? "en-GB" : "ru-RU", {
      minimumFractionDigits: 0, maximumFractionDigits: 2
    }) + "\u00a0" + unit;
  }

  var DAY_STEPS = [1, 2, 3, 7, 14, 28, 56, 91, 182, 365].map(function (d) { return d * 86400; });

  function build(el) {
    var data;
    try { data = JSON.parse(el.getAttribute("data-chart")); } catch (e) { return; }
    if (!data || !data.t || data.t.length < 2 || typeof uPlot === "undefined") { return; }
    var lang = (data.labels && data.labels.lang) || "ru";
    var money = data.unit ? function (v, l) { return amount(v, l, data.unit); } : moneyText;
    var day = new Intl.DateTimeFormat(lang === "en" ? "en-GB" : "ru-RU", { day: "numeric", month: "short" });
    var xs = data.t.slice();
    var balance = data.v.slice();
    var forecast = xs.map(function () { return null; });
    if (data.forecast && data.forecast.length > 1) {
      // Joins the last reading, then down by the daily spend with a step on each charge date.
      forecast[forecast.length - 1] = data.forecast[0][1];
      for (var i = 1; i < data.forecast.length; i++) {
        xs.push(data.forecast[i][0]);
        balance.push(null);
        forecast.push(data.forecast[i][1]);
      }
    }
    var threshold = xs.map(function () { return data.threshold; });
    var styles = getComputedStyle(document.documentElement);
    var primary = styles.getPropertyValue("--primary").trim() || "#1d4ed8";
    var danger = styles.getPropertyValue("--danger").trim() || "#b42318";
    var series = [
      {},
      { label: data.labels.balance, stroke: primary, width: 2.5, points: { size: 6 },
        value: function (u, v) { return money(v, lang); } },
      { label: data.labels.forecast, stroke: "#9a6700", width: 2, dash: [3, 5],
        value: function (u, v) { return money(v, lang); } },
      { label: data.labels.threshold, stroke: danger, width: 1.5, dash: [8, 6], points: { show: false },
        value: function (u, v) { return money(v, lang); } }
    ];
    var columns = [xs, balance, forecast, threshold];
    if (data.threshold == null) { series.pop(); columns.pop(); }
    var options = {
      width: Math.max(el.clientWidth, 280),
      height: 300,
      series: series,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true } },
      axes: [
        // Ticks a whole number of days apart, each day named once (a few days of readings
        // would otherwise get a tick every few hours, each saying the same date).
        { stroke: "#4f5b6b", grid: { stroke: "#e6e9ef" }, space: 60, incrs: DAY_STEPS,
          values: function (u, ticks) {
            var last = null;
            return ticks.map(function (t) {
              var text = day.format(new Date(t * 1000));
              if (text === last) { return ""; }
              last = text;
              return text;
            });
          } },
        { stroke: "#4f5b6b", grid: { stroke: "#e6e9ef" }, size: 80,
          values: function (u, ticks) { return ticks.map(function (v) { return money(v, lang); }); } }
      ]
    };
    var plot = new uPlot(options, columns, el);
    if (typeof ResizeObserver !== "undefined") {
      new ResizeObserver(function () {
        plot.setSize({ width: Math.max(el.clientWidth, 280), height: 300 });
      }).observe(el);
    }
  }

  function init() {
    var charts = document.querySelectorAll(".chart[data-chart]");
    for (var i = 0; i < charts.length; i++) { build(charts[i]); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
