import Foundation

/// Semi-supervised VOS evaluation with the DAVIS 2017 toolkit's protocol: per object and frame J (region IoU) and
/// F (boundary F-measure), per-object mean / recall / decay, averaged over all objects of all sequences.
///
/// Palette layout (DAVIS): the frames of a sequence are the ground-truth PNGs, the objects are ids 1…max of the
/// first ground-truth frame (void 255 removed). Per-object layout (SA-V): each object folder is evaluated over its
/// own frames, any non-zero pixel being the object. First and last frames are skipped (semi-supervised protocol).
/// A missing prediction file scores as an empty mask and is listed in the result; predicted ids the ground truth
/// lacks are ignored.
public struct VOSEvaluation: Sendable {
    /// Ground-truth folder.
    public var groundTruth: String
    /// Prediction folder (same layout as the ground truth).
    public var predictions: String
    /// Layout of both folders.
    public var layout: MaskFolderLayout
    /// Sequences to evaluate (nil: every sub-folder of the ground truth).
    public var sequences: [String]?
    /// Skip the first and last frame of each object's frames (DAVIS / SA-V semi-supervised protocol).
    public var skipFirstAndLast: Bool
    /// Boundary tolerance as a fraction of the diagonal (≥ 1: pixels).
    public var boundTh: Double

    /// An evaluation of `predictions` against `groundTruth`.
    public init(groundTruth: String, predictions: String, layout: MaskFolderLayout = .palette,
                sequences: [String]? = nil, skipFirstAndLast: Bool = true,
                boundTh: Double = BoundaryMeasure.defaultBoundThreshold) {
        self.groundTruth = groundTruth; self.predictions = predictions; self.layout = layout
        self.sequences = sequences; self.skipFirstAndLast = skipFirstAndLast; self.boundTh = boundTh
    }

    /// One object's frames to score.
    struct Unit {
        var sequence: String, object: String
        var id: Int?  // palette id; nil = non-zero pixels of a per-object PNG
        var frames: [String]
        var offset: Int  // first slot of this unit in the flat per-frame arrays
    }

    /// One pair of files to read and the units (objects) it scores.
    struct Item {
        var gtPath: String, predPath: String
        var units: [Int], ids: [Int?]
        var slots: [Int]
    }

    /// Runs the evaluation; `progress(done, total)` is called (serialised) after each frame pair.
    public func run(progress: ((Int, Int) -> Void)? = nil) throws -> EvaluationResult {
        let (units, items) = try plan()
        let slotCount = units.last.map { $0.offset + $0.frames.count } ?? 0
        let jValues = UnsafeMutableBufferPointer<Double>.allocate(capacity: max(1, slotCount))
        let fValues = UnsafeMutableBufferPointer<Double>.allocate(capacity: max(1, slotCount))
        defer { jValues.deallocate(); fValues.deallocate() }
        jValues.initialize(repeating: .nan); fValues.initialize(repeating: .nan)

        let lock = NSLock()
        var firstError: Error?
        var missing: [String] = []
        var done = 0
        let bound = boundTh
        // Every item writes only its own slots, so workers never touch the same element of jValues / fValues.
        let (js, fs) = (jValues, fValues)
        Parallel.forEach(items.count) { k in
            lock.lock(); let failed = firstError != nil; lock.unlock()
            if failed { return }
            do {
                let scored = try VOSEvaluation.score(items[k], boundTh: bound)
                for (n, slot) in items[k].slots.enumerated() { js[slot] = scored.j[n]; fs[slot] = scored.f[n] }
                lock.lock()
                if scored.predictionMissing { missing.append(items[k].predPath) }
                done += 1
                progress?(done, items.count)
                lock.unlock()
            } catch {
                lock.lock(); if firstError == nil { firstError = error }; lock.unlock()
            }
        }
        if let error = firstError { throw error }

        var sequencesOut: [SequenceEvaluation] = []
        for u in units {
            let j = Array(js[u.offset..<(u.offset + u.frames.count)])
            let f = Array(fs[u.offset..<(u.offset + u.frames.count)])
            let object = ObjectEvaluation(sequence: u.sequence, object: u.object, frames: u.frames, j: j, f: f,
                                          jStatistics: MetricStatistics(j), fStatistics: MetricStatistics(f))
            if sequencesOut.last?.name == u.sequence { sequencesOut[sequencesOut.count - 1].objects.append(object) }
            else { sequencesOut.append(SequenceEvaluation(name: u.sequence, objects: [object])) }
        }
        return EvaluationResult(sequences: sequencesOut, global: GlobalMetrics(objects: sequencesOut.flatMap(\.objects)),
                                missingPredictions: missing.sorted(), framePairs: items.count)
    }

    /// Scores of one file pair, one J and F per unit of the item.
    static func score(_ item: Item, boundTh: Double) throws -> (j: [Double], f: [Double], predictionMissing: Bool) {
        let gt = try readMask(item.gtPath)
        var pred: IndexMask? = nil
        if FolderListing.isFile(item.predPath) {
            let p = try readMask(item.predPath)
            guard p.width == gt.width, p.height == gt.height else {
                throw EvaluationError.sizeMismatch(path: item.predPath, expected: (gt.width, gt.height), got: (p.width, p.height))
            }
            pred = p
        }
        let palette = item.ids.compactMap { $0 }
        let gtMasks: [BitMask], predMasks: [BitMask]
        let empty = BitMask(width: gt.width, height: gt.height)
        if palette.count == item.ids.count {
            gtMasks = BitMask.objects(gt, ids: palette)
            predMasks = pred.map { BitMask.objects($0, ids: palette) } ?? Array(repeating: empty, count: palette.count)
        } else {
            gtMasks = [BitMask(nonZeroOf: gt)]
            predMasks = [pred.map { BitMask(nonZeroOf: $0) } ?? empty]
        }
        let radius = BoundaryMeasure.radius(width: gt.width, height: gt.height, boundTh: boundTh)
        var j: [Double] = [], f: [Double] = []
        for (g, p) in zip(gtMasks, predMasks) {
            j.append(RegionSimilarity.jaccard(annotation: g, segmentation: p))
            f.append(BoundaryMeasure.fMeasure(foregroundBoundary: BoundaryMap.seg2bmap(p),
                                              groundTruthBoundary: BoundaryMap.seg2bmap(g), radius: radius))
        }
        return (j, f, pred == nil)
    }

    static func readMask(_ path: String) throws -> IndexMask {
        do { return try ImageIO.readIndexMask(path) }
        catch let error as ImageIOError { throw EvaluationError.unreadableMask(path: path, reason: error.description) }
    }

    /// The units (objects × frames) and file pairs to score.
    func plan() throws -> ([Unit], [Item]) {
        guard FolderListing.isDirectory(groundTruth) else {
            throw EvaluationError.missingFolder(path: groundTruth, expected: "ground truth in the " + layout.expected)
        }
        guard FolderListing.isDirectory(predictions) else {
            throw EvaluationError.missingFolder(path: predictions, expected: "predictions in the " + layout.expected)
        }
        let available = FolderListing.subfolders(groundTruth) ?? []
        let names: [String]
        if let wanted = sequences {
            for name in wanted where !available.contains(name) {
                throw EvaluationError.unknownSequence(name: name, available: available)
            }
            names = wanted
        } else {
            names = available
        }
        guard !names.isEmpty else {
            throw EvaluationError.emptyFolder(path: groundTruth, expected: "one sub-folder per sequence in the " + layout.expected)
        }
        var units: [Unit] = [], items: [Item] = []
        var offset = 0
        func evaluated(_ frames: [String]) -> [String] {
            guard skipFirstAndLast else { return frames }
            return frames.count > 2 ? Array(frames[1..<(frames.count - 1)]) : []
        }
        for seq in names {
            let seqDir = groundTruth + "/" + seq
            switch layout {
            case .palette:
                let frames = FolderListing.stems(seqDir, ext: "png") ?? []
                guard let first = frames.first else {
                    throw EvaluationError.emptyFolder(path: seqDir, expected: "<frame>.png files in the " + layout.expected)
                }
                // The toolkit's object count: the largest id on the first annotated frame, void (255) excluded.
                let firstMask = try VOSEvaluation.readMask(seqDir + "/" + first + ".png")
                let maxID = firstMask.indices.reduce(0) { $1 == 255 ? $0 : max($0, Int($1)) }
                let frameList = evaluated(frames)
                let firstUnit = units.count
                for id in stride(from: 1, through: maxID, by: 1) {
                    units.append(Unit(sequence: seq, object: String(id), id: id, frames: frameList, offset: offset))
                    offset += frameList.count
                }
                guard maxID > 0 else { continue }
                for (t, frame) in frameList.enumerated() {
                    let us = Array(firstUnit..<(firstUnit + maxID))
                    items.append(Item(gtPath: seqDir + "/" + frame + ".png",
                                      predPath: predictions + "/" + seq + "/" + frame + ".png",
                                      units: us, ids: us.map { units[$0].id }, slots: us.map { units[$0].offset + t }))
                }
            case .perObject:
                let objects = FolderListing.subfolders(seqDir) ?? []
                guard !objects.isEmpty else {
                    throw EvaluationError.emptyFolder(path: seqDir, expected: "one folder per object in the " + layout.expected)
                }
                for obj in objects {
                    let frameList = evaluated(FolderListing.stems(seqDir + "/" + obj, ext: "png") ?? [])
                    let u = units.count
                    units.append(Unit(sequence: seq, object: obj, id: nil, frames: frameList, offset: offset))
                    for (t, frame) in frameList.enumerated() {
                        items.append(Item(gtPath: seqDir + "/" + obj + "/" + frame + ".png",
                                          predPath: predictions + "/" + seq + "/" + obj + "/" + frame + ".png",
                                          units: [u], ids: [nil], slots: [offset + t]))
                    }
                    offset += frameList.count
                }
            }
        }
        return (units, items)
    }
}
