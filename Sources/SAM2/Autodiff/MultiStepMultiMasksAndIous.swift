import Foundation

/// The SAM 2 training loss, official `MultiStepMultiMasksAndIous` (training/loss_fns.py): for every prediction step
/// (the initial prompt and each corrective click) a sigmoid focal loss and a dice loss on the predicted mask logits,
/// an L1 loss between the predicted IoUs and the masks' actual IoUs, and a focal (released: plain BCE) loss on the
/// object score. With several predicted masks only the one of lowest weighted focal + dice loss is back-propagated
/// (the IoU head learns all of them when `superviseAllIoU`). Mask, dice and IoU terms count only for objects present
/// in the ground truth. Every term is divided by the number of objects. Defaults: the released SAM 2.1 configs.
public struct MultiStepMultiMasksAndIous {
    /// `weight_dict`: weights of the four losses in `core`.
    public var weightMask: Float = 20, weightDice: Float = 1, weightIoU: Float = 1, weightClass: Float = 1
    public var focalAlpha: Float = 0.25, focalGamma: Float = 2
    /// Back-propagate the IoU loss of every predicted mask (mean over them), not only the selected one.
    public var superviseAllIoU = true
    /// L1 (else squared) IoU loss.
    public var iouUseL1Loss = true
    /// Train the object-score head (else `loss_class` is 0 and every object counts as present).
    public var predObjScores = true
    /// Focal parameters of the object-score loss (alpha < 0: no alpha weighting; gamma 0: plain BCE).
    public var focalAlphaObjScore: Float = -1, focalGammaObjScore: Float = 0

    /// One prediction step for N objects: mask logits [N, M, H, W], predicted IoUs [N, M], object-score logits [N, 1].
    public struct Step {
        public var masks: Variable
        public var ious: Variable
        public var objectScoreLogits: Variable
        public init(masks: Variable, ious: Variable, objectScoreLogits: Variable) {
            self.masks = masks; self.ious = ious; self.objectScoreLogits = objectScoreLogits
        }
    }

    /// The four losses summed over steps, and `core` = their weighted sum (what is back-propagated).
    public struct Losses {
        public var mask: Variable, dice: Variable, iou: Variable, objectClass: Variable, core: Variable
    }

    public init() {}

    /// Losses of `steps` against ground-truth masks `targets` [N, H, W] (> 0: object); `numObjects` defaults to N
    /// (the official clamps it to ≥ 1).
    public func callAsFunction(steps: [Step], targets: Tensor, numObjects: Int? = nil) -> Losses {
        precondition(!steps.isEmpty && targets.rank == 3, "MultiStepMultiMasksAndIous: steps and [N, H, W] targets needed")
        let n = targets.shape[0], hw = targets.shape[1] * targets.shape[2]
        let objects = Float(Swift.max(1, numObjects ?? n))
        let present = Tensor(shape: [n, 1], data: (0..<n).map { i in
            !predObjScores || targets.data[(i * hw)..<((i + 1) * hw)].contains { $0 > 0 } ? 1 : 0
        })
        var terms: [[Variable]] = []
        for step in steps {
            let m = step.masks.shape[1]
            precondition(step.masks.shape == [n, m, targets.shape[1], targets.shape[2]] && step.ious.shape == [n, m],
                         "MultiStepMultiMasksAndIous: step masks \(step.masks.shape) / ious \(step.ious.shape) for targets \(targets.shape)")
            let logits = step.masks.reshaped([n, m, hw])
            let target = Tensor.concat(Array(repeating: targets.reshaped([n, 1, hw]), count: m), axis: 1)
            let focal = Self.sigmoidFocalLoss(logits, targets: target, alpha: focalAlpha, gamma: focalGamma)
                .mean(axes: [2]) / objects                                              // [N, M]
            let dice = Self.diceLoss(logits, targets: target) / objects                 // [N, M]
            let iou = Self.iouLoss(logits, targets: target, predicted: step.ious, l1: iouUseL1Loss) / objects
            var maskLoss = focal, diceLoss = dice, iouLoss = iou
            if m > 1 {
                // Only the mask of least weighted focal + dice loss per object gets gradients: a one-hot selection.
                let combo = (focal.value * weightMask + dice.value * weightDice).data
                var pick = [Float](repeating: 0, count: n * m)
                for i in 0..<n {
                    var best = 0
                    for j in 1..<m where combo[i * m + j] < combo[i * m + best] { best = j }
                    pick[i * m + best] = 1
                }
                let onehot = Variable.constant(Tensor(shape: [n, m], data: pick))
                maskLoss = (focal * onehot).sum(axes: [1], keepDims: true)
                diceLoss = (dice * onehot).sum(axes: [1], keepDims: true)
                iouLoss = superviseAllIoU ? iou.mean(axes: [1], keepDims: true) : (iou * onehot).sum(axes: [1], keepDims: true)
            }
            let gate = Variable.constant(present)
            var classLoss = Variable.constant(Tensor(shape: [], data: [0]))
            if predObjScores {
                classLoss = Self.sigmoidFocalLoss(step.objectScoreLogits, targets: present, alpha: focalAlphaObjScore,
                                                  gamma: focalGammaObjScore).mean(axes: [1]).sum() / objects
            }
            terms.append([(maskLoss * gate).sum(), (diceLoss * gate).sum(), (iouLoss * gate).sum(), classLoss])
        }
        let total = (0..<4).map { k in terms.dropFirst().reduce(terms[0][k]) { $0 + $1[k] } }
        let core = total[0] * weightMask + total[1] * weightDice + total[2] * weightIoU + total[3] * weightClass
        return Losses(mask: total[0], dice: total[1], iou: total[2], objectClass: total[3], core: core)
    }

    /// Elementwise sigmoid focal loss (RetinaNet): BCE · (1 − p_t)^γ, times α_t when α ≥ 0.
    public static func sigmoidFocalLoss(_ logits: Variable, targets: Tensor, alpha: Float, gamma: Float) -> Variable {
        let t = Variable.constant(targets)
        let p = logits.sigmoid()
        var loss = logits.binaryCrossEntropyWithLogits(targets: targets)
        if gamma != 0 {
            let pT = p * t + (1 - p) * (1 - t)
            loss = loss * (1 - pT).power(gamma)
        }
        if alpha >= 0 { loss = loss * Variable.constant(targets.map { alpha * $0 + (1 - alpha) * (1 - $0) }) }
        return loss
    }

    /// Dice loss per mask of logits [N, M, L] against targets: 1 − (2 Σ σ(x)·t + 1) / (Σ σ(x) + Σ t + 1) → [N, M].
    public static func diceLoss(_ logits: Variable, targets: Tensor) -> Variable {
        let p = logits.sigmoid()
        let t = Variable.constant(targets)
        let numerator = 2 * (p * t).sum(axes: [2])
        let denominator = p.sum(axes: [2]) + t.sum(axes: [2])
        return 1 - (numerator + 1) / (denominator + 1)
    }

    /// |predicted − actual IoU| (or its square) per mask, the actual IoU of logits > 0 vs targets > 0 (union clamped
    /// to ≥ 1); no gradient reaches the masks through it.
    public static func iouLoss(_ logits: Variable, targets: Tensor, predicted: Variable, l1: Bool) -> Variable {
        let (n, m, l) = (logits.shape[0], logits.shape[1], logits.shape[2])
        let x = logits.value.data, y = targets.data
        let actual = Tensor(shape: [n, m], data: (0..<(n * m)).map { k in
            var inter = 0, union = 0
            for i in (k * l)..<((k + 1) * l) {
                let a = x[i] > 0, b = y[i] > 0
                if a && b { inter += 1 }
                if a || b { union += 1 }
            }
            return Float(inter) / Float(Swift.max(union, 1))
        })
        let diff = predicted - Variable.constant(actual)
        return l1 ? diff.absolute() : diff * diff
    }
}
