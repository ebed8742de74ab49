#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import IRTensor

/// Output helpers: stdout for results, stderr for errors and progress.
enum Terminal {
    /// Writes to stderr, each line escaped (`escaped`) so file-supplied text cannot drive the terminal.
    static func printError(_ text: String) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { escaped(String($0)) }
        fputs(lines.joined(separator: "\n") + "\n", stderr)
    }

    static func printJSON(_ value: JSON) {
        print(value.serialized(pretty: true))
    }

    /// Prints lines of human-readable output, each escaped (`escaped`): file-supplied text such
    /// as tensor names, notes and paths can neither break a line nor drive the terminal.
    static func say(_ lines: String...) { say(lines: lines) }

    static func say(lines: [String]) {
        for l in lines { print(escaped(l)) }
    }

    /// A string safe to show on a terminal: control characters (C0, DEL, C1), line and paragraph
    /// separators and invisible format characters (bidirectional overrides, zero-width marks)
    /// become visible escapes (`\n`, `\x1B`, `\u{202E}`), so a hostile tensor name cannot move
    /// the cursor, recolour or retitle the terminal, or reorder what is shown. Backslashes are
    /// left as they are.
    static func escaped(_ s: String) -> String {
        guard s.unicodeScalars.contains(where: needsEscape) else { return s }
        var out = ""
        for u in s.unicodeScalars {
            guard needsEscape(u) else { out.unicodeScalars.append(u); continue }
            switch u {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                let hex = String(u.value, radix: 16, uppercase: true)
                out += u.value < 0x80 ? "\\x" + (hex.count < 2 ? "0" : "") + hex : "\\u{" + hex + "}"
            }
        }
        return out
    }

    private static func needsEscape(_ u: Unicode.Scalar) -> Bool {
        if u.value >= 0x20 && u.value < 0x7F { return false }
        switch u.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator, .privateUse, .surrogate, .unassigned: return true
        default: return false
        }
    }

    static var stderrIsTTY: Bool {
        isatty(2) == 1 && (getenv("TERM").map { String(cString: $0) } ?? "") != "dumb"
    }

    static var environment: [String: String] {
        var out: [String: String] = [:]
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if let eq = s.firstIndex(of: "=") { out[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
            p += 1
        }
        return out
    }

    /// "1.5 GiB", "340 KiB", "12 B".
    static func bytes(_ n: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var v = Double(n), u = 0
        while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
        return u == 0 ? "\(n) B" : (v >= 100 ? "\(Int(v.rounded())) \(units[u])" : "\(format(v, 1)) \(units[u])")
    }

    /// "22.3M", "1.2K", "950".
    static func count(_ n: Int) -> String {
        if n >= 1_000_000_000 { return format(Double(n) / 1e9, 2) + "G" }
        if n >= 1_000_000 { return format(Double(n) / 1e6, 1) + "M" }
        if n >= 10_000 { return format(Double(n) / 1e3, 1) + "K" }
        return String(n)
    }

    /// 1234567 -> "1,234,567".
    static func grouped(_ n: Int) -> String {
        let s = String(n.magnitude)
        var out = ""
        for (i, c) in s.enumerated() {
            if i > 0 && (s.count - i) % 3 == 0 { out += "," }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }

    static func format(_ v: Double, _ decimals: Int) -> String {
        var p = 1.0
        for _ in 0..<decimals { p *= 10 }
        let r = (v * p).rounded() / p
        var s = "\(r)"
        if let dot = s.firstIndex(of: ".") {
            let frac = s[s.index(after: dot)...]
            if frac.count < decimals { s += String(repeating: "0", count: decimals - frac.count) }
            if decimals == 0 { s = String(s[..<dot]) }
        }
        return s
    }

    /// "4 s", "2 min 5 s", "1 h 3 min" (a progress bar's ETA).
    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded(.up))
        if s < 60 { return "\(s) s" }
        if s < 3600 { return "\(s / 60) min \(s % 60) s" }
        return "\(s / 3600) h \(s % 3600 / 60) min"
    }

    static func shape(_ s: [Int]) -> String { "[" + s.map(String.init).joined(separator: ", ") + "]" }

    /// Left-aligned columns separated by two spaces; cells are escaped (`escaped`).
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        let rows = rows.map { $0.map(escaped) }
        var widths = header.map { $0.count }
        for r in rows { for (i, c) in r.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in i == cells.count - 1 ? c : c + String(repeating: " ", count: widths[i] - c.count) }
                .joined(separator: "  ")
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

/// Progress for long work: a redrawn bar on a terminal, a few plain lines otherwise. Safe to
/// call from several threads.
final class ProgressReporter: @unchecked Sendable {
    private let label: String
    private let total: Int
    private let tty: Bool
    private let start = Terminal.now()
    private var lastDraw = 0.0
    private var lastQuarter = 0
    private var drawn = false
    private var mutex = pthread_mutex_t()

    init(label: String, total: Int) {
        self.label = label
        self.total = max(total, 1)
        self.tty = Terminal.stderrIsTTY
        pthread_mutex_init(&mutex, nil)
    }

    deinit { pthread_mutex_destroy(&mutex) }

    func update(_ done: Int) {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        let now = Terminal.now()
        if tty {
            guard now - lastDraw >= 0.1 || done >= total else { return }
            lastDraw = now
            let fraction = min(1, Double(done) / Double(total))
            let width = 30
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "=", count: filled) + (filled < width ? ">" + String(repeating: " ", count: width - filled - 1) : "")
            let rate = Double(done) / max(now - start, 1e-3)
            let eta = rate > 0 && done < total ? "  ETA \(Terminal.duration(Double(total - done) / rate))" : ""
            fputs("\r\u{1B}[2K\(label) [\(bar)] \(Int(fraction * 100))%  \(Terminal.bytes(done)) / \(Terminal.bytes(total))  \(Terminal.bytes(Int(rate)))/s\(eta)", stderr)
            drawn = true
        } else if total >= 64 << 20 {
            // Plain lines at each quarter, for logs.
            let quarter = min(4, done * 4 / total)
            if quarter > lastQuarter && quarter < 4 {
                lastQuarter = quarter
                fputs("\(label): \(quarter * 25)% (\(Terminal.bytes(done)) of \(Terminal.bytes(total)))\n", stderr)
            }
        }
    }

    /// Clears the bar; the caller prints the result line.
    func finish() {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        if tty && drawn { fputs("\r\u{1B}[2K", stderr) }
        drawn = false
    }

    var elapsed: Double { Terminal.now() - start }
}
