import Foundation

/// The central directory of a zip archive in a mapped file (PKWARE APPNOTE, incl. zip64); data is never copied.
public struct ZipArchive: Sendable {
    /// One archive member: where its (stored, uncompressed) bytes are in the file.
    public struct Entry: Sendable, Equatable {
        /// Path inside the archive.
        public let name: String
        /// 0 = stored; anything else is compressed and refused when read.
        public let compressionMethod: Int
        /// Byte offset of the member's data in the file.
        public let dataOffset: Int
        /// Size of the data as stored.
        public let size: Int
    }

    /// Members in central-directory order.
    public let entries: [Entry]
    private let byName: [String: Int]
    private let path: String

    /// Parses the end-of-central-directory record(s) and the central directory of `file`.
    public init(file: MappedFile) throws {
        path = file.path
        let path = file.path
        func truncated(_ what: String) -> CheckpointError { .truncated(path: path, reason: what) }
        guard let magic = file.readUInt(offset: 0, size: 4), magic == 0x0403_4B50 else {
            throw CheckpointError.notZip(path: path, reason: "missing local-header signature PK\\3\\4 at offset 0")
        }
        // The EOCD record is 22 bytes plus a comment of at most 65535 bytes, so scan backwards from the end.
        var eocd = -1
        var pos = file.count - 22
        let stop = max(0, file.count - 22 - 65535)
        while pos >= stop {
            if file.readUInt(offset: pos, size: 4) == 0x0605_4B50 { eocd = pos; break }
            pos -= 1
        }
        guard eocd >= 0 else { throw truncated("no end-of-central-directory record (the archive's tail is missing)") }
        func u(_ off: Int, _ size: Int) throws -> Int {
            guard let v = file.readUInt(offset: off, size: size), v <= UInt64(Int.max) else { throw truncated("record at offset \(off) runs past the end") }
            return Int(v)
        }
        var total = try u(eocd + 10, 2)
        var cdSize = try u(eocd + 12, 4)
        var cdOffset = try u(eocd + 16, 4)
        if total == 0xFFFF || cdSize == 0xFFFF_FFFF || cdOffset == 0xFFFF_FFFF {
            // zip64: a locator just before the EOCD points at the zip64 end record with 64-bit fields.
            let locator = eocd - 20
            guard locator >= 0, file.readUInt(offset: locator, size: 4) == 0x0706_4B50 else {
                throw CheckpointError.notZip(path: path, reason: "zip64 fields without a zip64 end-of-central-directory locator")
            }
            let rec = try u(locator + 8, 8)
            guard file.readUInt(offset: rec, size: 4) == 0x0606_4B50 else {
                throw CheckpointError.notZip(path: path, reason: "zip64 end-of-central-directory record not found at offset \(rec)")
            }
            total = try u(rec + 32, 8)
            cdSize = try u(rec + 40, 8)
            cdOffset = try u(rec + 48, 8)
        }
        guard file.contains(offset: cdOffset, length: cdSize) else {
            throw truncated("central directory \(cdOffset)+\(cdSize) lies beyond the file size \(file.count)")
        }
        var list: [Entry] = []
        list.reserveCapacity(min(total, 1 << 20))
        var p = cdOffset
        for i in 0..<total {
            guard file.readUInt(offset: p, size: 4) == 0x0201_4B50 else {
                throw CheckpointError.notZip(path: path, reason: "central directory entry \(i) at offset \(p) has a bad signature")
            }
            let method = try u(p + 10, 2)
            var compressed = try u(p + 20, 4)
            var size = try u(p + 24, 4)
            let nameLen = try u(p + 28, 2), extraLen = try u(p + 30, 2), commentLen = try u(p + 32, 2)
            var localOffset = try u(p + 42, 4)
            guard let nameBytes = file.bytes(offset: p + 46, length: nameLen) else { throw truncated("entry \(i) name") }
            let name = String(decoding: nameBytes, as: UTF8.self)
            // zip64 extended information: only the fields saturated in the fixed record are present, in this order.
            var e = p + 46 + nameLen
            let extraEnd = e + extraLen
            while e + 4 <= extraEnd {
                let id = try u(e, 2), len = try u(e + 2, 2)
                if id == 0x0001 {
                    var f = e + 4
                    if size == 0xFFFF_FFFF { size = try u(f, 8); f += 8 }
                    if compressed == 0xFFFF_FFFF { compressed = try u(f, 8); f += 8 }
                    if localOffset == 0xFFFF_FFFF { localOffset = try u(f, 8); f += 8 }
                }
                e += 4 + len
            }
            p = extraEnd + commentLen
            guard file.readUInt(offset: localOffset, size: 4) == 0x0403_4B50 else {
                throw CheckpointError.notZip(path: path, reason: "entry '\(name)': no local header at offset \(localOffset)")
            }
            let dataOffset = localOffset + 30 + (try u(localOffset + 26, 2)) + (try u(localOffset + 28, 2))
            guard file.contains(offset: dataOffset, length: compressed) else {
                throw truncated("entry '\(name)' needs bytes \(dataOffset)..<\(dataOffset + compressed), file has \(file.count)")
            }
            list.append(Entry(name: name, compressionMethod: method, dataOffset: dataOffset, size: method == 0 ? size : compressed))
        }
        entries = list
        var index: [String: Int] = [:]
        for (i, entry) in list.enumerated() { index[entry.name] = i }
        byName = index
    }

    /// The member named `name`, refusing compressed members.
    public func entry(_ name: String) throws -> Entry {
        guard let i = byName[name] else { throw CheckpointError.missingEntry(path: path, entry: name) }
        let entry = entries[i]
        guard entry.compressionMethod == 0 else {
            throw CheckpointError.compressedEntry(path: path, entry: name, method: entry.compressionMethod)
        }
        return entry
    }

    /// True if a member named `name` exists.
    public func contains(_ name: String) -> Bool { byName[name] != nil }
}
