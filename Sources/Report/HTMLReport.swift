import FedCore
import Foundation

/// A self-contained HTML page (inline CSS and SVG, nothing fetched), so a run's
/// report can be mailed, archived or opened from a CI artifact as one file.
public struct HTMLReport: Sendable {
    public var title: String
    /// Headline figures, shown first as a two-column table.
    public var summary: [(String, String)] = []
    /// Inline SVG charts, in order.
    public var charts: [String] = []
    /// The run's settings, so a plot is never separated from how it was made.
    public var settings: [(String, String)] = []

    public init(title: String) {
        self.title = title
    }

    public func render() -> String {
        let style = """
            body{font-family:sans-serif;max-width:1320px;margin:24px auto;padding:0 16px;color:#222}
            h1{font-size:22px}h2{font-size:17px;margin-top:28px}
            table{border-collapse:collapse;font-size:14px}td{padding:3px 14px 3px 0;border-bottom:1px solid #eee}
            td:first-child{color:#555}.charts{display:flex;flex-wrap:wrap;gap:12px}
            .charts svg{border:1px solid #ddd;background:#fff;max-width:100%;height:auto}
            """
        var html = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        html += "<title>\(SVGChart.escape(title))</title><style>\(style)</style></head><body>"
        html += "<h1>\(SVGChart.escape(title))</h1>"
        if !summary.isEmpty { html += "<h2>Summary</h2>" + table(summary) }
        if !charts.isEmpty { html += "<h2>Plots</h2><div class=\"charts\">" + charts.joined() + "</div>" }
        if !settings.isEmpty { html += "<h2>Settings</h2>" + table(settings) }
        return html + "</body></html>\n"
    }

    private func table(_ rows: [(String, String)]) -> String {
        "<table>" + rows.map { "<tr><td>\(SVGChart.escape($0.0))</td><td>\(SVGChart.escape($0.1))</td></tr>" }.joined() + "</table>"
    }
}
