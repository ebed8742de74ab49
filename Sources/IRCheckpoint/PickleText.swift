/// Integers as pickles spell them: two's complement bytes (LONG1/LONG4) or decimal text (INT/LONG).
enum PickleInteger {
    /// Little-endian two's complement bytes to `.int` when it fits, else a canonical `.bigInt`.
    static func fromTwosComplement(_ raw: UnsafeRawBufferPointer) -> PickleValue {
        fromTwosComplement(Array(raw))
    }

    static func fromTwosComplement(_ raw: [UInt8]) -> PickleValue {
        guard !raw.isEmpty else { return .int(0) }
        var b = raw
        // Drop bytes that only repeat the sign, so equal values have equal bytes.
        while b.count > 1 {
            let last = b[b.count - 1], next = b[b.count - 2]
            if (last == 0x00 && next & 0x80 == 0) || (last == 0xFF && next & 0x80 != 0) { b.removeLast() } else { break }
        }
        if b.count <= 8 {
            var u: UInt64 = b.last! & 0x80 != 0 ? ~0 : 0
            for (i, byte) in b.enumerated() {
                u &= ~(UInt64(0xFF) << (8 * UInt64(i)))
                u |= UInt64(byte) << (8 * UInt64(i))
            }
            return .int(Int(Int64(bitPattern: u)))
        }
        return .bigInt(b)
    }

    /// Decimal text (optional sign, surrounding spaces) of any size up to `maxDigits`.
    static func fromDecimal(_ line: [UInt8], maxDigits: Int) throws -> PickleValue {
        let text = String(decoding: line, as: UTF8.self).trimmingASCIISpaces()
        var digits = Substring(text)
        var negative = false
        if let f = digits.first, f == "-" || f == "+" { negative = f == "-"; digits.removeFirst() }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw PickleError("integer argument '\(text.prefix(40))' is not a decimal number")
        }
        guard digits.count <= maxDigits else { throw PickleError("integer of \(digits.count) digits exceeds the limit") }
        if let i = Int(text.hasPrefix("+") ? String(text.dropFirst()) : text) { return .int(i) }
        // Magnitude in base 256, little-endian.
        var mag: [UInt8] = [0]
        for ch in digits.utf8 {
            var carry = Int(ch - 0x30)
            for i in mag.indices {
                let v = Int(mag[i]) * 10 + carry
                mag[i] = UInt8(v & 0xFF)
                carry = v >> 8
            }
            while carry > 0 { mag.append(UInt8(carry & 0xFF)); carry >>= 8 }
        }
        mag.append(0)  // room for the sign bit
        if negative {
            var carry = 1
            for i in mag.indices {
                let v = Int(~mag[i]) + carry
                mag[i] = UInt8(v & 0xFF)
                carry = v >> 8
            }
        }
        return fromTwosComplement(mag)
    }
}

/// The text arguments of protocols 0 and 1.
enum PickleText {
    /// A memo index of PUT/GET.
    static func index(_ line: [UInt8], opcode: String) throws -> Int {
        let text = String(decoding: line, as: UTF8.self).trimmingASCIISpaces()
        guard let i = Int(text), i >= 0 else { throw PickleError("\(opcode) argument '\(text.prefix(40))' is not a memo index") }
        return i
    }

    /// STRING: a quoted Python 2 str literal with backslash escapes, decoded as UTF-8 (as torch.load does).
    static func quotedString(_ line: [UInt8]) throws -> String {
        guard line.count >= 2, let q = line.first, q == line.last, q == UInt8(ascii: "'") || q == UInt8(ascii: "\"") else {
            throw PickleError("STRING argument must be quoted")
        }
        let inner = line[1 ..< line.count - 1]
        var out: [UInt8] = []
        out.reserveCapacity(inner.count)
        var i = inner.startIndex
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: return c - 0x30
            case 0x61...0x66: return c - 0x61 + 10
            case 0x41...0x46: return c - 0x41 + 10
            default: return nil
            }
        }
        while i < inner.endIndex {
            let c = inner[i]
            i += 1
            guard c == UInt8(ascii: "\\") else { out.append(c); continue }
            guard i < inner.endIndex else { throw PickleError("STRING ends with a lone backslash") }
            let e = inner[i]
            i += 1
            switch e {
            case UInt8(ascii: "\n"): break
            case UInt8(ascii: "\\"), UInt8(ascii: "'"), UInt8(ascii: "\""): out.append(e)
            case UInt8(ascii: "a"): out.append(7)
            case UInt8(ascii: "b"): out.append(8)
            case UInt8(ascii: "t"): out.append(9)
            case UInt8(ascii: "n"): out.append(10)
            case UInt8(ascii: "v"): out.append(11)
            case UInt8(ascii: "f"): out.append(12)
            case UInt8(ascii: "r"): out.append(13)
            case UInt8(ascii: "x"):
                guard i + 1 < inner.endIndex, let h = hex(inner[i]), let l = hex(inner[i + 1]) else {
                    throw PickleError("STRING has an invalid \\x escape")
                }
                out.append(h << 4 | l)
                i += 2
            case 0x30...0x37:
                var v = Int(e - 0x30)
                var n = 1
                while n < 3, i < inner.endIndex, (0x30...0x37).contains(inner[i]) {
                    v = v * 8 + Int(inner[i] - 0x30)
                    i += 1
                    n += 1
                }
                out.append(UInt8(v & 0xFF))
            default:
                out.append(UInt8(ascii: "\\"))
                out.append(e)
            }
        }
        guard let s = String(validating: out, as: UTF8.self) else { throw PickleError("STRING is not valid UTF-8") }
        return s
    }

    /// UNICODE: raw-unicode-escape (Latin-1 bytes, `\uXXXX` and `\UXXXXXXXX` escapes).
    static func rawUnicodeEscape(_ line: [UInt8]) throws -> String {
        var scalars = String.UnicodeScalarView()
        var i = 0
        while i < line.count {
            let c = line[i]
            guard c == UInt8(ascii: "\\") else {
                scalars.append(Unicode.Scalar(c))
                i += 1
                continue
            }
            // A run of backslashes: only an odd run can start an escape.
            var run = 0
            while i + run < line.count, line[i + run] == UInt8(ascii: "\\") { run += 1 }
            let after = i + run
            let escapes = run % 2 == 1 && after < line.count && (line[after] == UInt8(ascii: "u") || line[after] == UInt8(ascii: "U"))
            for _ in 0 ..< (escapes ? run - 1 : run) { scalars.append("\\") }
            i = after
            guard escapes else { continue }
            let width = line[after] == UInt8(ascii: "u") ? 4 : 8
            guard after + 1 + width <= line.count,
                  let v = UInt32(String(decoding: line[(after + 1) ..< (after + 1 + width)], as: UTF8.self), radix: 16),
                  let scalar = Unicode.Scalar(v) else {
                throw PickleError("UNICODE has an invalid \\u escape")
            }
            scalars.append(scalar)
            i = after + 1 + width
        }
        return String(scalars)
    }
}
