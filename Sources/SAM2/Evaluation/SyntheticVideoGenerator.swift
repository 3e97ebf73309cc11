import Foundation

/// Where a synthetic sprite is on one frame.
public struct SyntheticPose: Sendable, Equatable {
    /// Centre in pixels (x right, y down); may lie outside the frame.
    public var centerX: Double, centerY: Double
    /// Current scale (1 = base radius).
    public var scale: Double
    /// Rotation in radians.
    public var angle: Double
    /// Base radius in pixels: the sprite lies inside the disc of radius radius·scale around the centre.
    public var radius: Double
}

/// One rendered synthetic frame: the RGB image and its exact DAVIS-style annotation (index = object id).
public struct SyntheticFrame: Sendable, Equatable {
    /// RGB frame.
    public var image: Image8
    /// Visible part of each annotated object (occluded parts, distractors and the bar are 0).
    public var mask: IndexMask
    /// Pairs an image with its mask.
    public init(image: Image8, mask: IndexMask) { self.image = image; self.mask = mask }
}

/// Procedural videos with exact ground truth: textured objects that move, scale and rotate over a panning
/// background, pass behind each other or a foreground bar, leave and re-enter the frame, among look-alike
/// distractors. Any frame is rendered on demand from closed-form trajectories, so memory does not grow with
/// the video length and frames can be made in any order or in parallel.
public struct SyntheticVideoGenerator: Sendable {
    /// The config this video was built from.
    public let config: SyntheticVideoConfig
    /// Scheduled exits and occlusions, by start frame.
    public let events: [SyntheticEvent]

    struct Sprite: Sendable {
        var id: UInt8                     // 0: not annotated (distractor)
        var shape: SyntheticShape
        var tile: Int
        var radius: Double
        var x0: Double, y0: Double, vx: Double, vy: Double
        var angle0: Double, omega: Double
        var scaleAmp: Double, scalePhase: Double
        var events: [SyntheticEvent]
        var maxRadius: Double { radius * (1 + scaleAmp) }
    }

    struct Bar: Sendable {
        var x0: Double, amplitude: Double, period: Double, width: Double, tile: Int
        func centerX(_ t: Double) -> Double { x0 + amplitude * Foundation.sin(2 * Double.pi * t / period) }
    }

    /// Paint order: distractors, annotated objects by id (the occluder is the highest id), then the bar.
    let sprites: [Sprite]
    let bar: Bar?
    let tiles: [SyntheticTextureTile]
    let backgroundTile: Int
    let panX: Double, panY: Double
    let scalePeriod: Double

    /// Annotated object ids (1…objects).
    public var objectIDs: [Int] { Array(1...config.objects) }

    /// Builds the scene from the config's seed; throws if the config is invalid.
    public init(config: SyntheticVideoConfig) throws {
        try config.validate()
        self.config = config
        let w = Double(config.width), h = Double(config.height), side = Double(min(config.width, config.height))
        var rng = SplitMix64(seed: SplitMix64.mix(config.seed ^ 0x5A4D_3256_5359_4E54))
        var tiles: [SyntheticTextureTile] = []

        // Background: muted colours so saturated objects stand out (and flat objects never match it).
        let bgHue = rng.nextUnit()
        let bgA = SyntheticColor.hsv(bgHue, rng.uniform(0.1...0.3), rng.uniform(0.55...0.75))
        let bgB = SyntheticColor.hsv(bgHue + rng.uniform(-0.1...0.1), rng.uniform(0.1...0.3), rng.uniform(0.2...0.4))
        let bgKind: SyntheticTexture = config.background == .mixed ? .noise : config.background
        tiles.append(SyntheticTextureTile(kind: bgKind, size: 256, colorA: bgA, colorB: bgB, cell: 32, seed: rng.next()))
        backgroundTile = 0
        let panAngle = rng.uniform(0...(2 * Double.pi))
        panX = config.backgroundPan * Foundation.cos(panAngle)
        panY = config.backgroundPan * Foundation.sin(panAngle)
        scalePeriod = config.scalePeriod

        let occluderID = (config.occlusion == .objects || config.occlusion == .both) ? config.objects : 0
        let hue0 = rng.nextUnit()
        var objects: [Sprite] = []
        for id in 1...config.objects {
            var kind = config.shapes[rng.int(0...(config.shapes.count - 1))]
            var shape = SyntheticShape(kind: kind, rng: &rng)
            if id == occluderID { shape = SyntheticShape.solid(rng: &rng); kind = shape.kind }
            var texture = config.texture
            if texture == .mixed { texture = [.flat, .noise, .stripes, .checker][rng.int(0...3)] }
            let hue = hue0 + 0.618_034 * Double(id)
            let a = SyntheticColor.hsv(hue, rng.uniform(0.7...1), rng.uniform(0.8...1))
            let b = SyntheticColor.hsv(hue + rng.uniform(0.06...0.18), rng.uniform(0.7...1), rng.uniform(0.35...0.55))
            tiles.append(SyntheticTextureTile(kind: texture, size: 64, colorA: a, colorB: b, cell: 16, seed: rng.next()))
            let speed = config.speed * rng.uniform(0.6...1.4), heading = rng.uniform(0...(2 * Double.pi))
            objects.append(Sprite(
                id: UInt8(id), shape: shape, tile: tiles.count - 1, radius: rng.uniform(config.objectSize) * side,
                x0: rng.uniform(0...w), y0: rng.uniform(0...h),
                vx: speed * Foundation.cos(heading), vy: speed * Foundation.sin(heading),
                angle0: rng.uniform(0...(2 * Double.pi)),
                omega: config.rotation * Double.pi / 180 * rng.sign() * rng.uniform(0.5...1),
                scaleAmp: id == occluderID ? 0 : config.scaleChange, scalePhase: rng.uniform(0...(2 * Double.pi)),
                events: []))
        }

        // The occluder must cover every other object entirely when they are centred on it.
        if occluderID > 0 {
            let back = objects.filter { Int($0.id) != occluderID }
            let inscribed = objects[occluderID - 1].shape.inscribedRadius
            let maxBack = back.map(\.maxRadius).max() ?? 0
            let cap = 0.45 * side
            var needed = (maxBack + 2) / inscribed
            if needed > cap {
                // Shrink the others so that they still fit inside the largest occluder allowed.
                let f = max(0.05, (cap * inscribed - 2) / maxBack)
                for i in objects.indices where Int(objects[i].id) != occluderID { objects[i].radius *= f }
                needed = cap
            }
            objects[occluderID - 1].radius = max(objects[occluderID - 1].radius, needed)
        }

        // Foreground bar, wide enough to hide any object centred on it.
        let movers = objects.filter { Int($0.id) != occluderID }
        let maxMover = movers.map(\.maxRadius).max() ?? 0
        if config.occlusion == .bar || config.occlusion == .both {
            let barA = SyntheticColor.hsv(rng.nextUnit(), 0.05, 0.85), barB = SyntheticColor.hsv(0, 0, 0.25)
            tiles.append(SyntheticTextureTile(kind: .stripes, size: 64, colorA: barA, colorB: barB, cell: 16, seed: rng.next() & ~1))
            bar = Bar(x0: rng.uniform((0.35 * w)...(0.65 * w)), amplitude: 0.1 * w, period: 400,
                      width: 2 * maxMover + 6, tile: tiles.count - 1)
        } else {
            bar = nil
        }

        // Event schedule: each object cycles through its kinds; objects are staggered across the period.
        let ramp = min(30, max(3, Int(((0.5 * max(w, h) + maxMover) / max(4 * config.speed, 8)).rounded(.up))))
        let duration = 2 * ramp + config.hiddenFrames
        // Auto period: about two events per object in short clips, one every ≤ 150 frames in long videos.
        let period = max(duration + 1, config.eventPeriod ?? max(duration + 10, min(config.frames / 2, 150)))
        var events: [SyntheticEvent] = []
        let eventful = objects.indices.filter { Int(objects[$0].id) != occluderID }
        for (rank, i) in eventful.enumerated() {
            var kinds: [SyntheticEvent.Kind] = []
            if config.disappear { kinds.append(.exit(edge: 0)) }
            if occluderID > 0 { kinds.append(.behindObject(occluder: occluderID)) }
            if bar != nil { kinds.append(.behindBar) }
            if kinds.isEmpty { continue }
            let phase = 2 + rank * period / eventful.count
            var j = 0
            while phase + j * period < config.frames {
                let start = phase + j * period
                var kind = kinds[(j + rank) % kinds.count]
                if case .exit = kind {
                    // Leave through the edge nearest to where the glide starts.
                    let (bx, by) = SyntheticVideoGenerator.baseCenter(objects[i], Double(start), config)
                    let d = [bx, w - bx, by, h - by]
                    kind = .exit(edge: d.firstIndex(of: d.min()!)!)
                }
                let e = SyntheticEvent(objectID: Int(objects[i].id), kind: kind, start: start, ramp: ramp,
                                       hidden: config.hiddenFrames)
                objects[i].events.append(e); events.append(e)
                j += 1
            }
        }
        self.events = events.sorted { ($0.start, $0.objectID) < ($1.start, $1.objectID) }

        // Distractors copy an annotated object's shape and texture (same tile) but move on their own.
        var distractors: [Sprite] = []
        for d in 0..<config.distractors {
            let model = objects[d % objects.count]
            let speed = config.speed * rng.uniform(0.6...1.4), heading = rng.uniform(0...(2 * Double.pi))
            distractors.append(Sprite(
                id: 0, shape: model.shape, tile: model.tile, radius: model.radius * rng.uniform(0.9...1.1),
                x0: rng.uniform(0...w), y0: rng.uniform(0...h),
                vx: speed * Foundation.cos(heading), vy: speed * Foundation.sin(heading),
                angle0: rng.uniform(0...(2 * Double.pi)),
                omega: config.rotation * Double.pi / 180 * rng.sign() * rng.uniform(0.5...1),
                scaleAmp: config.scaleChange, scalePhase: rng.uniform(0...(2 * Double.pi)), events: []))
        }
        sprites = distractors + objects
        self.tiles = tiles
    }

    /// Reflects x into [lo, hi] as a ball bouncing between walls (closed form, so any frame is O(1)).
    static func bounce(_ x: Double, _ lo: Double, _ hi: Double) -> Double {
        let span = hi - lo
        if span <= 0 { return (lo + hi) / 2 }
        var m = (x - lo).truncatingRemainder(dividingBy: 2 * span)
        if m < 0 { m += 2 * span }
        return lo + (m <= span ? m : 2 * span - m)
    }

    static func baseCenter(_ s: Sprite, _ t: Double, _ c: SyntheticVideoConfig) -> (Double, Double) {
        let r = s.maxRadius
        return (bounce(s.x0 + s.vx * t, r, Double(c.width) - r), bounce(s.y0 + s.vy * t, r, Double(c.height) - r))
    }

    func pose(_ s: Sprite, _ t: Double) -> SyntheticPose {
        var (cx, cy) = SyntheticVideoGenerator.baseCenter(s, t, config)
        for e in s.events {
            let wgt = e.weight(t)
            if wgt == 0 { continue }
            let margin = s.maxRadius + 2
            var tx = cx, ty = cy
            switch e.kind {
            case let .exit(edge):
                switch edge {
                case 0: tx = -margin
                case 1: tx = Double(config.width) + margin
                case 2: ty = -margin
                default: ty = Double(config.height) + margin
                }
            case let .behindObject(occluder):
                (tx, ty) = SyntheticVideoGenerator.baseCenter(sprites[config.distractors + occluder - 1], t, config)
            case .behindBar:
                tx = bar?.centerX(t) ?? cx
            }
            cx += wgt * (tx - cx); cy += wgt * (ty - cy)
        }
        let scale = 1 + s.scaleAmp * Foundation.sin(2 * Double.pi * t / scalePeriod + s.scalePhase)
        return SyntheticPose(centerX: cx, centerY: cy, scale: scale, angle: s.angle0 + s.omega * t, radius: s.radius)
    }

    /// Pose of annotated object `id` (1…objects) on frame `index`.
    public func pose(objectID id: Int, frame index: Int) -> SyntheticPose? {
        guard (1...config.objects).contains(id) else { return nil }
        return pose(sprites[config.distractors + id - 1], Double(index))
    }

    /// Frames on which object `id` is guaranteed invisible (inside the hidden part of an event).
    public func hiddenFrames(objectID id: Int) -> [Range<Int>] {
        events.filter { $0.objectID == id }.map { $0.hiddenFrames.clamped(to: 0..<config.frames) }.filter { !$0.isEmpty }
    }

    /// Flat colour of object `id` (every pixel of the object when its texture is `.flat`).
    public func baseColor(objectID id: Int) -> (r: UInt8, g: UInt8, b: UInt8)? {
        guard (1...config.objects).contains(id) else { return nil }
        let c = tiles[sprites[config.distractors + id - 1].tile].baseColor
        return (c.0, c.1, c.2)
    }

    /// Renders frame `index` (image + mask).
    public func frame(_ index: Int) throws -> SyntheticFrame {
        var image = Image8(width: config.width, height: config.height, channels: 3)
        var mask = IndexMask(width: config.width, height: config.height)
        try render(index, into: &image, mask: &mask)
        return SyntheticFrame(image: image, mask: mask)
    }

    /// Renders frame `index` into reusable buffers (reallocated only if their size is wrong); `parallel`
    /// spreads rows over cores (turn it off when frames themselves are rendered in parallel).
    public func render(_ index: Int, into image: inout Image8, mask: inout IndexMask, parallel: Bool = true) throws {
        guard (0..<config.frames).contains(index) else {
            throw SyntheticVideoError.frameOutOfRange(index: index, frames: config.frames)
        }
        let W = config.width, H = config.height
        if image.width != W || image.height != H || image.channels != 3 { image = Image8(width: W, height: H, channels: 3) }
        if mask.width != W || mask.height != H { mask = IndexMask(width: W, height: H) }
        let t = Double(index)
        let poses = sprites.map { pose($0, t) }
        let ox = Int((panX * t).rounded(.down)), oy = Int((panY * t).rounded(.down))
        let barX = bar.map { $0.centerX(t) }
        let sprites = self.sprites, tiles = self.tiles, bgTile = tiles[backgroundTile], bar = self.bar
        image.pixels.withUnsafeMutableBufferPointer { img in
            mask.indices.withUnsafeMutableBufferPointer { msk in
                // img holds W·H RGB triplets and msk W·H indices; each chunk writes only its own rows.
                let (img, msk) = (img, msk)
                let body = { (rows: Range<Int>) in
                    bgTile.pixels.withUnsafeBufferPointer { bg in
                        for y in rows {
                            let row = y * W
                            for x in 0..<W {
                                let s = bgTile.offset(Double(x + ox), Double(y + oy)), d = 3 * (row + x)
                                img[d] = bg[s]; img[d + 1] = bg[s + 1]; img[d + 2] = bg[s + 2]
                                msk[row + x] = 0
                            }
                        }
                    }
                    for (k, s) in sprites.enumerated() {
                        let p = poses[k]
                        let reach = p.radius * p.scale
                        let y0 = max(rows.lowerBound, Int((p.centerY - reach).rounded(.down)))
                        let y1 = min(rows.upperBound, Int((p.centerY + reach).rounded(.up)) + 1)
                        let x0 = max(0, Int((p.centerX - reach).rounded(.down)))
                        let x1 = min(W, Int((p.centerX + reach).rounded(.up)) + 1)
                        if y0 >= y1 || x0 >= x1 { continue }
                        let cosA = Foundation.cos(p.angle), sinA = Foundation.sin(p.angle)
                        let inv = 1 / reach, texScale = p.radius
                        let tile = tiles[s.tile]
                        tile.pixels.withUnsafeBufferPointer { tex in
                            for y in y0..<y1 {
                                let dy = Double(y) + 0.5 - p.centerY
                                for x in x0..<x1 {
                                    let dx = Double(x) + 0.5 - p.centerX
                                    let lx = (dx * cosA + dy * sinA) * inv, ly = (dy * cosA - dx * sinA) * inv
                                    if !s.shape.contains(lx, ly) { continue }
                                    let o = tile.offset(lx * texScale, ly * texScale), d = 3 * (y * W + x)
                                    img[d] = tex[o]; img[d + 1] = tex[o + 1]; img[d + 2] = tex[o + 2]
                                    msk[y * W + x] = s.id
                                }
                            }
                        }
                    }
                    if let bar, let barX {
                        let x0 = max(0, Int((barX - bar.width / 2).rounded())), x1 = min(W, Int((barX + bar.width / 2).rounded()))
                        let tile = tiles[bar.tile]
                        tile.pixels.withUnsafeBufferPointer { tex in
                            for y in rows where x0 < x1 {
                                for x in x0..<x1 {
                                    let o = tile.offset(Double(x - x0), Double(y)), d = 3 * (y * W + x)
                                    img[d] = tex[o]; img[d + 1] = tex[o + 1]; img[d + 2] = tex[o + 2]
                                    msk[y * W + x] = 0
                                }
                            }
                        }
                    }
                }
                if parallel { Parallel.forChunks(H, grain: 16, body) } else { body(0..<H) }
            }
        }
    }
}
