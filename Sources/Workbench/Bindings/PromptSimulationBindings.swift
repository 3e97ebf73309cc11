import Foundation
import SAM2

/// `metrics.clicks` and `metrics.box`: simulated users from ground truth (`ClickSimulation`).
enum PromptSimulationBindings {
    /// metrics.clicks(gt, k, predict [, {rule}]) → {{x, y, label}, …}: the first click at the object's centre,
    /// each next one at the centre of the largest error of `predict(points_so_far)` (a sam2.mask).
    static func clicks(_ call: LuaCall) throws -> [LuaValue] {
        let gt = try call.object(1, MaskObject.self)
        let k = try call.int(2)
        guard k >= 1 else { throw call.argumentError(2, "at least 1 click expected, got \(k)") }
        let predict = try call.value(3)
        guard case .function = predict else { throw call.typeError(3, expected: "function", got: predict) }
        let o = try call.options(4, known: ["rule"])
        var rule = ClickSimulation.ErrorRegionRule.farthestPoint
        switch try o.string("rule") {
        case nil, "farthest": break
        case "largest": rule = .largestArea
        case let r?: throw o.error("rule", "'farthest' or 'largest' expected, got '\(r)'")
        }
        let clicks = try ClickSimulation.clicks(gt: gt.mask, count: k, rule: rule) { so_far in
            let result = try call.callFunction(predict, [points(so_far)]).first ?? .nil
            guard case let .object(obj) = result, let mask = obj as? MaskObject else {
                throw BindingError.invalid("metrics.clicks: predict must return a sam2.mask, got \(result.typeName)")
            }
            guard mask.mask.width == gt.mask.width, mask.mask.height == gt.mask.height else {
                throw BindingError.sizeMismatch(what: "metrics.clicks: predicted mask", expected: "\(gt.mask.width)×\(gt.mask.height)",
                                                got: "\(mask.mask.width)×\(mask.mask.height)")
            }
            return mask.mask
        }
        return [points(clicks)]
    }

    /// Clicks as `model:segment` points.
    static func points(_ clicks: [Click]) -> LuaValue {
        .array(clicks.map { .array([.int($0.x), .int($0.y), .int($0.label)]) })
    }

    /// metrics.box(gt [, {noise = "none"|"gaussian"|"uniform", fraction, bound, seed}]) → {x0, y0, x1, y1} or nil
    static func box(_ call: LuaCall) throws -> [LuaValue] {
        let gt = try call.object(1, MaskObject.self)
        let o = try call.options(2, known: ["noise", "fraction", "bound", "seed"])
        let fraction = try o.number("fraction") ?? 0.1, bound = try o.number("bound") ?? 20
        guard fraction >= 0 else { throw o.error("fraction", "must be ≥ 0, got \(fraction)") }
        guard bound >= 0 else { throw o.error("bound", "must be ≥ 0, got \(bound)") }
        let noise: ClickSimulation.BoxNoise
        switch try o.string("noise") {
        case nil, "none": noise = .none
        case "gaussian": noise = .gaussian(fraction: fraction, bound: bound)
        case "uniform": noise = .uniform(fraction: fraction, bound: bound)
        case let n?: throw o.error("noise", "'none', 'gaussian' or 'uniform' expected, got '\(n)'")
        }
        var rng = SplitMix64(seed: UInt64(bitPattern: Int64(try o.int("seed") ?? 0)))
        guard let b = ClickSimulation.box(gt.mask, noise: noise, rng: &rng) else { return [.nil] }
        return [.array([.number(b.x0), .number(b.y0), .number(b.x1), .number(b.y1)])]
    }
}
