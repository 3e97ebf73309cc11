import Foundation

/// The first prompt an object got.
public struct InteractivePromptRecord: Codable, Sendable, Equatable {
    /// Object id.
    public var objectId: Int
    /// Frame prompted (the object's first annotated frame).
    public var frame: Int
    /// "clicks", "box" or "mask".
    public var kind: String
    /// The clicks, in order (empty for box and mask prompts).
    public var clicks: [Click]
    /// The box (box prompts only).
    public var box: BoxPrompt?
}

/// One corrective click the simulated user gave.
public struct CorrectionRecord: Codable, Sendable, Equatable {
    /// Offline round (1-based) that added it; 0 for online clicks (given during the first pass).
    public var round: Int
    /// Frame clicked.
    public var frame: Int
    /// Object corrected.
    public var objectId: Int
    /// The click (positive in a miss, negative in a false alarm).
    public var click: Click
    /// IoU of the object on that frame before the click.
    public var iouBefore: Double
    /// IoU right after the click (the frame's new conditioning output, before re-propagation).
    public var iouAfter: Double
}

/// One object's J and F over its scored frames after a pass.
public struct InteractiveObjectResult: Codable, Sendable {
    /// Object id.
    public var objectId: Int
    /// The frame it was first prompted on.
    public var firstFrame: Int
    /// Clicks it received so far (first-frame clicks + corrective clicks; box and mask prompts count 0).
    public var clicks: Int
    /// Scored frames (annotated frames from `firstFrame` on; first and last dropped in the DAVIS protocol).
    public var frames: [Int]
    /// J per scored frame.
    public var j: [Double]
    /// F per scored frame.
    public var f: [Double]
    /// Mean, recall and decay of J.
    public var jStatistics: MetricStatistics
    /// Mean, recall and decay of F.
    public var fStatistics: MetricStatistics
    /// (J-Mean + F-Mean) / 2.
    public var jAndF: Double

    /// Scores of an object; statistics as the DAVIS toolkit computes them.
    public init(objectId: Int, firstFrame: Int, clicks: Int, frames: [Int], j: [Double], f: [Double]) {
        self.objectId = objectId; self.firstFrame = firstFrame; self.clicks = clicks
        self.frames = frames; self.j = j; self.f = f
        jStatistics = MetricStatistics(j); fStatistics = MetricStatistics(f)
        jAndF = (jStatistics.mean + fStatistics.mean) / 2
    }
}

/// The state of a video after one propagation pass.
public struct InteractiveRound: Codable, Sendable {
    /// 0: after the first pass (online corrections included); k: after offline correction round k.
    public var round: Int
    /// Corrective clicks given in the video so far.
    public var correctiveClicks: Int
    /// Per-object scores, by id.
    public var objects: [InteractiveObjectResult]
    /// Mean over objects of their J-Mean (the toolkit's per-sequence average).
    public var jMean: Double
    /// Mean over objects of their F-Mean.
    public var fMean: Double
    /// (J + F) / 2 of the video.
    public var jAndF: Double

    /// A pass's scores; the video means are computed from the objects'.
    public init(round: Int, correctiveClicks: Int, objects: [InteractiveObjectResult]) {
        func mean(_ v: [Double]) -> Double { v.isEmpty ? .nan : v.reduce(0, +) / Double(v.count) }
        self.round = round; self.correctiveClicks = correctiveClicks; self.objects = objects
        jMean = mean(objects.map(\.jStatistics.mean)); fMean = mean(objects.map(\.fStatistics.mean))
        jAndF = (jMean + fMean) / 2
    }
}

/// What an interactive evaluation of one video produced.
public struct InteractiveVideoResult: Codable, Sendable {
    /// Sequence name.
    public var video: String
    /// Schedule name.
    public var schedule: String
    /// First prompts, by object id.
    public var prompts: [InteractivePromptRecord]
    /// Objects that got no prompt (empty ground truth on their first frame), never tracked or scored.
    public var unprompted: [Int]
    /// Corrective clicks in the order given.
    public var corrections: [CorrectionRecord]
    /// One entry per propagation pass: round 0, then each offline round.
    public var rounds: [InteractiveRound]

    /// Corrective clicks in the video.
    public var correctiveClicks: Int
    /// All clicks in the video (first-frame clicks + corrective clicks).
    public var totalClicks: Int

    /// A video's result; click totals are counted from the prompts and corrections.
    public init(video: String, schedule: String, prompts: [InteractivePromptRecord], unprompted: [Int],
                corrections: [CorrectionRecord], rounds: [InteractiveRound]) {
        self.video = video; self.schedule = schedule; self.prompts = prompts; self.unprompted = unprompted
        self.corrections = corrections; self.rounds = rounds
        correctiveClicks = corrections.count
        totalClicks = prompts.reduce(0) { $0 + $1.clicks.count } + corrections.count
    }
    /// The last pass.
    public var final: InteractiveRound? { rounds.last }

    /// Pretty-printed JSON (NaN written as "nan", as J/F statistics of frame-less objects are NaN).
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try encoder.encode(self)
    }

    /// Decodes `jsonData()` output.
    public static func decode(_ data: Data) throws -> InteractiveVideoResult {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try decoder.decode(InteractiveVideoResult.self, from: data)
    }
}
