import Foundation

/// A read-only memory mapping of a whole file; pages are only read (and only count as resident) when touched.
public final class MappedFile: @unchecked Sendable {
    /// The file's path, for error messages.
    public let path: String
    /// Length of the file in bytes.
    public let count: Int
    // Immutable after init and never written through, so sharing across threads is safe.
    private let base: UnsafeRawPointer?
    private let isMapped: Bool

    /// Maps `path` read-only.
    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw CheckpointError.unreadable(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw CheckpointError.unreadable(path: path, reason: String(cString: strerror(errno))) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw CheckpointError.unreadable(path: path, reason: "not a regular file") }
        count = Int(st.st_size)
        if count == 0 { base = nil; isMapped = false; return }
        guard let p = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw CheckpointError.unreadable(path: path, reason: "mmap failed: \(String(cString: strerror(errno)))")
        }
        base = UnsafeRawPointer(p)
        isMapped = true
    }

    deinit {
        if isMapped, let base { munmap(UnsafeMutableRawPointer(mutating: base), count) }
    }

    /// True when `offset..<offset+length` lies inside the file (overflow-safe).
    public func contains(offset: Int, length: Int) -> Bool {
        offset >= 0 && length >= 0 && offset <= count && length <= count - offset
    }

    /// Calls `body` with the bytes `offset..<offset+length`; the caller must have checked `contains`.
    public func withBytes<R>(offset: Int, length: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        precondition(contains(offset: offset, length: length), "MappedFile: range checked by caller")
        guard let base else { return try body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        return try body(UnsafeRawBufferPointer(start: base + offset, count: length))
    }

    /// Little-endian unsigned integer of `size` bytes at `offset`, or nil when out of range.
    public func readUInt(offset: Int, size: Int) -> UInt64? {
        guard contains(offset: offset, length: size), let base else { return nil }
        var v: UInt64 = 0
        for i in stride(from: size - 1, through: 0, by: -1) { v = v << 8 | UInt64(base.load(fromByteOffset: offset + i, as: UInt8.self)) }
        return v
    }

    /// A copy of the bytes `offset..<offset+length`, or nil when out of range.
    public func bytes(offset: Int, length: Int) -> [UInt8]? {
        guard contains(offset: offset, length: length) else { return nil }
        return withBytes(offset: offset, length: length) { [UInt8]($0) }
    }
}
