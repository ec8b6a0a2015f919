import FedCore
import Foundation

/// One named line on a chart: points in data coordinates.
public struct ChartSeries: Sendable {
    public var name: String
    public var points: [(x: Double, y: Double)]

    public init(name: String, points: [(x: Double, y: Double)]) {
        self.name = name
        self.points = points
    }
}

/// One bar of a histogram: a label under it and its height.
public struct ChartBar: Sendable {
    public var label: String
    public var value: Double

    public init(label: String, value: Double) {
        self.label = label
        self.value = value
    }
}

/// A horizontal line across a chart at `value` (a target), labelled.
public struct ChartReference: Sendable {
    public var value: Double
    public var label: String

    public init(value: Double, label: String) {
        self.value = value
        self.label = label
    }
}

/// How a value axis labels its ticks.
public enum ChartValueFormat: Sendable {
    case plain
    /// Fractions shown as percent (0.97 → "97%"), as the summary shows accuracy.
    case percent
}

/// Inline SVG charts, so a report is one self-contained file that opens
/// anywhere (no JavaScript, no CDN, nothing to fetch).
public enum SVGChart {
    static let width = 640.0
    static let height = 320.0
    static let margin = (left: 64.0, right: 28.0, top: 32.0, bottom: 48.0)  // room for the last x tick's label
    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"]

    /// A line chart with linear axes and a legend when there is more than one series.
    /// - Parameters:
    ///   - yRange: fixed ends of the value axis; without it the axis zooms to the data (and
    ///     the reference line), so 90-97% is not a few pixels at the top of 0-100%.
    ///   - reference: a labelled horizontal line (the target accuracy), always in view.
    ///   - fromZero: the value axis starts at 0 (rates, losses: their size matters, not only their shape).
    public static func line(
        title: String, xLabel: String, yLabel: String, series: [ChartSeries],
        yRange: ClosedRange<Double>? = nil, reference: ChartReference? = nil, format: ChartValueFormat = .plain,
        fromZero: Bool = false
    ) -> String {
        let all = series.flatMap(\.points)
        guard !all.isEmpty else { return emptyChart(title: title) }
        let xAxis = Axis(covering: all.map(\.x), from: nil)
        let yAxis = yRange.map { Axis(lower: $0.lowerBound, upper: $0.upperBound) }
            ?? Axis(covering: all.map(\.y) + (reference.map { [$0.value] } ?? []), from: fromZero ? 0 : nil)
        var svg = frame(title: title, xLabel: xLabel, yLabel: yLabel, x: xAxis, y: yAxis, format: format)
        if let reference, (yAxis.lower...yAxis.upper).contains(reference.value) {
            let py = yAxis.pixelInverted(reference.value)
            svg += "<line x1=\"\(fmt(margin.left))\" x2=\"\(fmt(width - margin.right))\" y1=\"\(fmt(py))\" y2=\"\(fmt(py))\" stroke=\"#2ca02c\" stroke-dasharray=\"6 4\"/>"
            svg += "<text x=\"\(fmt(width - margin.right - 4))\" y=\"\(fmt(py - 4))\" font-size=\"11\" text-anchor=\"end\" fill=\"#2ca02c\">\(escape(reference.label))</text>"
        }
        for (index, line) in series.enumerated() where !line.points.isEmpty {
            let colour = palette[index % palette.count]
            let path = line.points.map { "\(fmt(xAxis.pixel($0.x, along: plotWidth, offset: margin.left))),\(fmt(yAxis.pixelInverted($0.y)))" }
            svg += "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\" points=\"\(path.joined(separator: " "))\"/>"
            if series.count > 1 {
                let ly = margin.top + 14 + Double(index) * 16
                svg += "<rect x=\"\(fmt(margin.left + 10))\" y=\"\(fmt(ly - 9))\" width=\"12\" height=\"3\" fill=\"\(colour)\"/>"
                svg += "<text x=\"\(fmt(margin.left + 28))\" y=\"\(fmt(ly))\" font-size=\"12\">\(escape(line.name))</text>"
            }
        }
        return svg + "</svg>"
    }

    /// A bar chart, for histograms (staleness, latency).
    public static func bars(title: String, xLabel: String, yLabel: String, bars: [ChartBar]) -> String {
        guard !bars.isEmpty else { return emptyChart(title: title) }
        let yAxis = Axis(covering: bars.map(\.value), from: 0)
        var svg = frame(title: title, xLabel: xLabel, yLabel: yLabel, x: nil, y: yAxis)
        let slot = plotWidth / Double(bars.count)
        let labelEvery = max(1, bars.count / 16)
        // Labels wider than their slot (about 6 px a character at 11 px) go on two lines,
        // name over parenthesis, so "publishers (this process)" and "broker (pid 123)" do
        // not run into each other.
        let wrapped = bars.contains { Double($0.label.count) * 6.2 > slot * Double(labelEvery) }
        for (index, bar) in bars.enumerated() {
            let x = margin.left + Double(index) * slot
            let top = yAxis.pixelInverted(bar.value)
            svg += "<rect x=\"\(fmt(x + slot * 0.1))\" y=\"\(fmt(top))\" width=\"\(fmt(slot * 0.8))\" height=\"\(fmt(max(0, baseline - top)))\" fill=\"\(palette[0])\"><title>\(escape(bar.label)): \(fmt(bar.value))</title></rect>"
            if index % labelEvery == 0, wrapped {
                let parts = bar.label.split(separator: " (", maxSplits: 1).map(String.init)
                let lines = parts.count == 2 ? [parts[0], "(" + parts[1]] : [bar.label]
                svg += "<text font-size=\"11\" text-anchor=\"middle\">" + lines.enumerated().map { line in
                    "<tspan x=\"\(fmt(x + slot / 2))\" y=\"\(fmt(baseline + 14 + 12 * Double(line.offset)))\">\(escape(line.element))</tspan>"
                }.joined() + "</text>"
            } else if index % labelEvery == 0 {
                svg += "<text x=\"\(fmt(x + slot / 2))\" y=\"\(fmt(baseline + 16))\" font-size=\"11\" text-anchor=\"middle\">\(escape(bar.label))</text>"
            }
        }
        return svg + "</svg>"
    }

    static var plotWidth: Double { width - margin.left - margin.right }
    static var plotHeight: Double { height - margin.top - margin.bottom }
    static var baseline: Double { height - margin.bottom }

    static func frame(title: String, xLabel: String, yLabel: String, x: Axis?, y: Axis, format: ChartValueFormat = .plain) -> String {
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(fmt(width)) \(fmt(height))\" width=\"\(fmt(width))\" height=\"\(fmt(height))\" font-family=\"sans-serif\">"
        svg += "<text x=\"\(fmt(width / 2))\" y=\"20\" font-size=\"14\" font-weight=\"bold\" text-anchor=\"middle\">\(escape(title))</text>"
        for tick in y.ticks {
            let py = y.pixelInverted(tick)
            svg += "<line x1=\"\(fmt(margin.left))\" x2=\"\(fmt(width - margin.right))\" y1=\"\(fmt(py))\" y2=\"\(fmt(py))\" stroke=\"#ddd\"/>"
            svg += "<text x=\"\(fmt(margin.left - 6))\" y=\"\(fmt(py + 4))\" font-size=\"11\" text-anchor=\"end\">\(tickLabel(tick, format: format))</text>"
        }
        if let x {
            for tick in x.ticks {
                let px = x.pixel(tick, along: plotWidth, offset: margin.left)
                svg += "<line x1=\"\(fmt(px))\" x2=\"\(fmt(px))\" y1=\"\(fmt(margin.top))\" y2=\"\(fmt(baseline))\" stroke=\"#eee\"/>"
                svg += "<text x=\"\(fmt(px))\" y=\"\(fmt(baseline + 16))\" font-size=\"11\" text-anchor=\"middle\">\(tickLabel(tick))</text>"
            }
        }
        svg += "<line x1=\"\(fmt(margin.left))\" x2=\"\(fmt(width - margin.right))\" y1=\"\(fmt(baseline))\" y2=\"\(fmt(baseline))\" stroke=\"#333\"/>"
        svg += "<line x1=\"\(fmt(margin.left))\" x2=\"\(fmt(margin.left))\" y1=\"\(fmt(margin.top))\" y2=\"\(fmt(baseline))\" stroke=\"#333\"/>"
        svg += "<text x=\"\(fmt(margin.left + plotWidth / 2))\" y=\"\(fmt(height - 8))\" font-size=\"12\" text-anchor=\"middle\">\(escape(xLabel))</text>"
        svg += "<text transform=\"translate(14 \(fmt(margin.top + plotHeight / 2))) rotate(-90)\" font-size=\"12\" text-anchor=\"middle\">\(escape(yLabel))</text>"
        return svg
    }

    static func emptyChart(title: String) -> String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(fmt(width)) 60\" width=\"\(fmt(width))\" height=\"60\" font-family=\"sans-serif\"><text x=\"10\" y=\"30\" font-size=\"13\">\(escape(title)): no data</text></svg>"
    }

    /// A linear axis whose ends are rounded out to "nice" tick steps (1, 2, 5 × 10^k).
    struct Axis {
        var lower: Double
        var upper: Double
        var step: Double

        init(lower: Double, upper: Double) {
            let span = upper > lower ? upper - lower : 1
            step = Axis.niceStep(span / 5)
            self.lower = lower
            self.upper = upper > lower ? upper : lower + 1
        }

        init(covering values: [Double], from fixedLower: Double?) {
            var low = fixedLower ?? values.min() ?? 0
            var high = values.max() ?? 1
            if high <= low { high = low + 1 }
            let step = Axis.niceStep((high - low) / 5)
            low = (low / step).rounded(.down) * step
            high = (high / step).rounded(.up) * step
            self.lower = fixedLower ?? low
            self.upper = high
            self.step = step
        }

        static func niceStep(_ raw: Double) -> Double {
            guard raw > 0, raw.isFinite else { return 1 }
            let magnitude = pow(10, (log10(raw)).rounded(.down))
            let fraction = raw / magnitude
            let nice: Double = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10
            return nice * magnitude
        }

        var ticks: [Double] {
            var result: [Double] = []
            var tick = (lower / step).rounded(.up) * step
            while tick <= upper + step * 1e-9, result.count < 12 {
                result.append(tick)
                tick += step
            }
            return result
        }

        func pixel(_ value: Double, along length: Double, offset: Double) -> Double {
            offset + (value - lower) / (upper - lower) * length
        }

        func pixelInverted(_ value: Double) -> Double {
            SVGChart.baseline - (value - lower) / (upper - lower) * SVGChart.plotHeight
        }
    }

    static func fmt(_ value: Double) -> String { String(format: "%.1f", value) }

    static func tickLabel(_ value: Double, format: ChartValueFormat = .plain) -> String {
        if format == .percent { return tickLabel(value * 100) + "%" }
        if value == value.rounded(), abs(value) < 1e7 { return String(Int(value)) }
        return String(format: abs(value) < 0.01 ? "%.2g" : "%.3g", value)
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;")
            .replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }
}
