import Foundation

/// A whole video at a glance: every k-th frame shrunk into a grid, optionally labelled with its frame number.
public enum ContactSheet {
    /// Builds the sheet from `frame(i)` for i = 0, k, 2k, … < frameCount (frames are requested one at a time,
    /// so long videos need memory only for the sheet). Thumbnails are `thumbnailWidth` wide (aspect kept,
    /// area-averaged), `gap` pixels apart on a dark background.
    public static func make(frameCount: Int, every k: Int = 10, columns: Int = 6, thumbnailWidth: Int = 160,
                            labels: Bool = true, gap: Int = 2,
                            frame: (Int) throws -> Image8) throws -> Image8 {
        guard frameCount > 0, k > 0, columns > 0, thumbnailWidth > 0, gap >= 0 else {
            throw ImageIOError.invalidArgument("ContactSheet.make needs frameCount, every, columns, thumbnailWidth > 0 and gap ≥ 0 (got \(frameCount), \(k), \(columns), \(thumbnailWidth), \(gap))")
        }
        let indices = Array(stride(from: 0, to: frameCount, by: k))
        var sheet: Image8? = nil
        var thumbH = 0
        let rows = (indices.count + columns - 1) / columns
        for (n, i) in indices.enumerated() {
            let full = try frame(i).rgb
            if sheet == nil {
                thumbH = max(1, Int((Double(full.height) * Double(thumbnailWidth) / Double(max(1, full.width))).rounded()))
                sheet = Image8(width: columns * thumbnailWidth + (columns + 1) * gap,
                               height: rows * thumbH + (rows + 1) * gap, channels: 3, repeating: 32)
            }
            let thumb = downscale(full, width: thumbnailWidth, height: thumbH)
            let ox = gap + (n % columns) * (thumbnailWidth + gap), oy = gap + (n / columns) * (thumbH + gap)
            for y in 0..<thumbH {
                let src = y * thumbnailWidth * 3, dst = ((oy + y) * sheet!.width + ox) * 3
                sheet!.pixels.replaceSubrange(dst..<(dst + thumbnailWidth * 3), with: thumb.pixels[src..<(src + thumbnailWidth * 3)])
            }
            if labels {
                let scale = thumbnailWidth >= 120 ? 2 : 1
                let text = String(i), size = BitmapFont.size(of: text, scale: scale)
                Overlay.fillRect(&sheet!, x0: ox, y0: oy, x1: ox + size.width + 2 * scale, y1: oy + size.height + 2 * scale, color: (0, 0, 0))
                BitmapFont.draw(text, into: &sheet!, x: ox + scale, y: oy + scale, scale: scale)
            }
        }
        return sheet!
    }

    /// Area-average resize of an RGB image (each output pixel averages the source pixels its footprint covers).
    public static func downscale(_ image: Image8, width: Int, height: Int) -> Image8 {
        var out = Image8(width: width, height: height, channels: 3)
        let sx = Double(image.width) / Double(width), sy = Double(image.height) / Double(height)
        let src = image.rgb
        out.pixels.withUnsafeMutableBufferPointer { dst in
            let d = dst  // width·height RGB triplets; each chunk writes its own rows.
            Parallel.forChunks(height, grain: 8) { rows in
                for y in rows {
                    let ya = Int(Double(y) * sy), yb = max(ya + 1, min(image.height, Int(Double(y + 1) * sy)))
                    for x in 0..<width {
                        let xa = Int(Double(x) * sx), xb = max(xa + 1, min(image.width, Int(Double(x + 1) * sx)))
                        var acc = (0, 0, 0)
                        for yy in ya..<yb {
                            for xx in xa..<xb {
                                let o = (yy * image.width + xx) * 3
                                acc.0 += Int(src.pixels[o]); acc.1 += Int(src.pixels[o + 1]); acc.2 += Int(src.pixels[o + 2])
                            }
                        }
                        let n = (yb - ya) * (xb - xa), o = (y * width + x) * 3
                        d[o] = UInt8((acc.0 + n / 2) / n); d[o + 1] = UInt8((acc.1 + n / 2) / n); d[o + 2] = UInt8((acc.2 + n / 2) / n)
                    }
                }
            }
        }
        return out
    }
}
