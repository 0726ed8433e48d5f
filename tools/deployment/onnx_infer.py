"""Run an end-to-end ONNX file (tools/deployment/export_onnx.py --end2end) with no PyTorch.

    python onnx_infer.py MODEL.onnx IMAGE [IMAGE ...] --out-dir DIR [--score-thr 0.3]
        [--backend onnxruntime|openvino] [--precision f32|bf16] [--threads N]

Needs only numpy, OpenCV and the runtime (onnxruntime or openvino): copy this file beside
MODEL.onnx and MODEL.json, nothing else. For each image it writes DIR/NAME.jpg (the drawing)
and DIR/NAME.json (detections: box x1 y1 x2 y2 in original-image pixels, score, label, class;
scores >= --score-thr; Mask R-CNN adds "mask", the instance mask at the original image size as
COCO's uncompressed RLE: {"size": [height, width], "counts": [...]}, run lengths of the
column-major (Fortran order) pixels starting with a run of zeros, which pycocotools'
mask.frPyObjects reads) or DIR/NAME.png (segmentation: the label map, one class index per pixel).

The pre-processing is the one MODEL.json describes, repeated as mmcv does it: the image read by
OpenCV (EXIF orientation applied), the test pipeline's resizes (bilinear), channel order,
mean / std, padding with zeros. A file of a static size gets every image resized into that size
(keeping its aspect ratio) and padded.
"""
import argparse
import json
import math
import os
import os.path as osp
import sys

import cv2
import numpy as np

FORMAT = 'lsnet_dense-onnx'
REQUIREMENTS = dict(onnxruntime='onnxruntime==1.31.1', openvino='openvino==2026.4.1')


class RunnerError(Exception):
    """A problem with the user's files or options: printed as ``error: ...``."""


def read_sidecar(model_path):
    path = osp.splitext(model_path)[0] + '.json'
    if not osp.isfile(model_path):
        raise RunnerError(f'ONNX file not found: {model_path}')
    if not osp.isfile(path):
        raise RunnerError(f'{path} not found: {model_path} needs the JSON that '
                          'export_onnx.py writes beside it')
    with open(path) as f:
        try:
            sidecar = json.load(f)
        except json.JSONDecodeError as error:
            raise RunnerError(f'{path} is not valid JSON: {error}') from None
    if sidecar.get('format') != FORMAT:
        raise RunnerError(f'{path} is not an lsnet_dense export description')
    if not sidecar.get('end2end'):
        raise RunnerError(f'{model_path} is a raw file (the network up to its raw outputs, '
                          'whose decoding runs in mmdet / mmseg); this runner needs an '
                          'end-to-end file: export with tools/deployment/export_onnx.py '
                          '--end2end')
    return sidecar


class Session:
    """The file in ONNX Runtime or OpenVINO (CPU): ``run(feeds)`` -> outputs in file order."""

    def __init__(self, path, backend, precision, threads):
        if precision == 'bf16' and backend != 'openvino':
            raise RunnerError('--precision bf16 runs in OpenVINO: add --backend openvino')
        try:
            runtime = __import__(backend)
        except ImportError as error:
            raise RunnerError(f'{backend} is not installed ({error}); install it with '
                              f'`pip install {REQUIREMENTS[backend]}`') from None
        self.backend = backend
        if backend == 'onnxruntime':
            options = runtime.SessionOptions()
            options.log_severity_level = 3
            if threads:
                options.intra_op_num_threads = threads
            self.session = runtime.InferenceSession(path, options,
                                                    providers=['CPUExecutionProvider'])
            self.input_shape = list(self.session.get_inputs()[0].shape)
        else:
            core = runtime.Core()
            if precision == 'bf16':
                capabilities = core.get_property('CPU', 'OPTIMIZATION_CAPABILITIES')
                if 'BF16' not in capabilities:
                    raise RunnerError('--precision bf16: this CPU has no BF16 instructions '
                                      f'(OpenVINO reports {", ".join(capabilities)}); use f32')
            config = {'INFERENCE_PRECISION_HINT': precision}
            if threads:
                config['INFERENCE_NUM_THREADS'] = threads
            self.compiled = core.compile_model(core.read_model(path), 'CPU', config)
            self.input_shape = [d.get_length() if d.is_static else '?'
                                for d in self.compiled.inputs[0].get_partial_shape()]

    def run(self, feeds):
        if self.backend == 'onnxruntime':
            return self.session.run(None, feeds)
        results = self.compiled(feeds)
        return [np.asarray(results[output]) for output in self.compiled.outputs]


def read_image(path):
    """(H, W, 3) uint8 BGR, EXIF orientation applied (OpenCV's IMREAD_COLOR does, as mmcv)."""
    if not osp.isfile(path):
        raise RunnerError(f'image not found: {path}')
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise RunnerError(f'cannot read {path}: not an image OpenCV can decode')
    return image


def rescaled_size(width, height, scale):
    """mmcv.rescale_size: the largest size with long edge <= max(scale), short <= min."""
    factor = min(max(scale) / max(height, width), min(scale) / min(height, width))
    return int(width * factor + 0.5), int(height * factor + 0.5)


def resize(image, steps):
    """The test pipeline's resizes; returns (image, (scale_x, scale_y)) as mmdet records them."""
    height, width = image.shape[:2]
    for step in steps:
        h, w = image.shape[:2]
        if step['type'] == 'Resize':
            size = (rescaled_size(w, h, step['scale']) if step['keep_ratio']
                    else tuple(step['scale']))
        else:  # ResizeToMultiple
            divisor = step['size_divisor']
            size = tuple(int(math.ceil(s / divisor)) * divisor for s in (w, h))
        if size != (w, h):
            image = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
    return image, (image.shape[1] / width, image.shape[0] / height)


def fit_static(image, shape):
    """Resize (keeping the aspect ratio) an image that does not fit a static file's size."""
    h, w = image.shape[:2]
    if h <= shape[0] and w <= shape[1]:
        return image
    factor = min(shape[0] / h, shape[1] / w)
    size = (min(shape[1], int(w * factor + 0.5)), min(shape[0], int(h * factor + 0.5)))
    return cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)


def preprocess(image, sidecar):
    """BGR uint8 image -> (input (1, 3, H, W) float32, valid (h, w), (scale_x, scale_y))."""
    spec = sidecar['input']
    height, width = image.shape[:2]
    image, _ = resize(image, sidecar.get('preprocess', []))
    static = None if spec.get('dynamic') else spec['shape'][2:]
    if static:
        image = fit_static(image, static)
    scale = (image.shape[1] / width, image.shape[0] / height)
    if spec['channel_order'] == 'RGB':
        image = image[..., ::-1]
    array = image.astype(np.float32)
    if spec.get('mean') is not None:
        array = (array - np.array(spec['mean'], np.float32)) / np.array(spec['std'], np.float32)
    h, w = array.shape[:2]
    if static:
        padded = static
    else:
        divisor = spec.get('pad_size_divisor') or 1
        padded = [int(math.ceil(s / divisor)) * divisor for s in (h, w)]
    canvas = np.zeros((*padded, 3), np.float32)
    canvas[:h, :w] = array
    return canvas.transpose(2, 0, 1)[None].copy(), (h, w), scale


def colours(count):
    rng = np.random.default_rng(0)
    return [tuple(int(c) for c in rng.integers(0, 256, 3)) for _ in range(count)]


def _interpolation(coords, size):
    """(n, size) float32 weights of bilinear sampling at ``coords`` (grid units, pixel
    centres at 0 .. size - 1); taps outside the grid weigh 0 (grid_sample's zero padding)."""
    low = np.floor(coords)
    frac = coords - low
    low = low.astype(np.int64)
    weights = np.zeros((len(coords), size), np.float32)
    rows = np.arange(len(coords))
    for tap, weight in ((low, 1 - frac), (low + 1, frac)):
        inside = (tap >= 0) & (tap < size)
        weights[rows[inside], tap[inside]] = weight[inside]
    return weights


def paste_mask(probabilities, box, height, width, threshold):
    """(M, M) probabilities on a grid spanning ``box`` (original pixels) -> (height, width)
    bool, as mmdet's _do_paste_mask on the CPU: pixel centres mapped into the grid, bilinear
    with zeros outside (torch grid_sample, align_corners=False), only around the box, then
    >= threshold. Bilinear sampling on a separable grid is two small matrix products."""
    x0, y0, x1, y1 = (np.float32(v) for v in box)
    left, top = max(int(np.floor(x0)) - 1, 0), max(int(np.floor(y0)) - 1, 0)
    right = min(int(np.ceil(x1)) + 1, width)
    bottom = min(int(np.ceil(y1)) + 1, height)
    size = probabilities.shape[0]
    with np.errstate(divide='ignore', invalid='ignore'):
        # float32 in mmdet's order: normalised to [-1, 1] (a zero-width box gives inf: 0 as in
        # mmdet), then grid_sample's unnormalisation.
        grid_x = (np.arange(left, right, dtype=np.float32) + np.float32(0.5) - x0) / (x1 - x0)
        grid_y = (np.arange(top, bottom, dtype=np.float32) + np.float32(0.5) - y0) / (y1 - y0)
    mask = np.zeros((height, width), bool)
    if right <= left or bottom <= top:
        return mask
    grids = []
    for grid in (grid_x, grid_y):
        grid = grid * np.float32(2) - np.float32(1)
        grid[np.isinf(grid)] = 0
        grids.append(((grid + np.float32(1)) * np.float32(size) - np.float32(1)) / np.float32(2))
    resampled = _interpolation(grids[1], size) @ probabilities @ _interpolation(grids[0],
                                                                                size).T
    mask[top:bottom, left:right] = resampled >= threshold
    return mask


def mask_to_rle(mask):
    """(H, W) bool -> COCO's uncompressed RLE: column-major run lengths, zeros first."""
    flat = mask.T.reshape(-1)
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    counts = np.diff(np.concatenate([[0], changes, [flat.size]])).tolist()
    return dict(size=list(mask.shape), counts=([0] + counts) if flat[:1].any() else counts)


def detect(session, sidecar, image, score_thr):
    """(detections in original-image pixels: list of dicts, best first; their masks (N, H, W)
    bool, or None for a detector without masks)."""
    inputs, valid, (scale_x, scale_y) = preprocess(image, sidecar)
    outputs = session.run({'images': inputs, 'image_size': np.array(valid, np.float32)})
    boxes, scores, labels = outputs[:3]
    scale = np.array([scale_x, scale_y] * 2, np.float32)
    keep = scores >= score_thr
    classes = sidecar.get('classes') or [str(i) for i in range(sidecar['num_classes'])]
    masks = None
    if len(outputs) == 4:  # Mask R-CNN: boxes divided by the scale, as mmdet's mask head
        boxes = boxes / scale
        threshold = sidecar['decode']['mask_thr_binary']
        masks = np.array([paste_mask(p, b, *image.shape[:2], threshold)
                          for p, b in zip(outputs[3][keep], boxes[keep])], bool).reshape(
                              -1, *image.shape[:2])
    else:  # as mmdet's rescale: multiplied by the reciprocal scale factors, in float32
        boxes = boxes * np.array([1 / scale_x, 1 / scale_y] * 2, np.float32)
    detections = [dict(box=[float(v) for v in box], score=float(score), label=int(label),
                       **{'class': classes[int(label)]})
                  for box, score, label in zip(boxes[keep], scores[keep], labels[keep])]
    for detection, mask in zip(detections, masks if masks is not None else []):
        detection['mask'] = mask_to_rle(mask)
    return detections, masks


def segment(session, sidecar, image):
    """(H, W) label map of the original image (the graph resizes its logits to that size)."""
    inputs, valid, _ = preprocess(image, sidecar)
    return session.run({'images': inputs, 'image_size': np.array(valid, np.int64),
                        'output_size': np.array(image.shape[:2], np.int64)})[0][0]


def draw_detections(image, detections, masks, count, opacity=0.5):
    drawing, palette = image.copy(), colours(count)
    for d, mask in zip(detections, masks if masks is not None else []):
        colour = np.array(palette[d['label']], np.float32)
        drawing[mask] = (drawing[mask] * (1 - opacity) + colour * opacity).astype(np.uint8)
    for d in detections:
        x1, y1, x2, y2 = (int(round(v)) for v in d['box'])
        colour = palette[d['label']]
        cv2.rectangle(drawing, (x1, y1), (x2, y2), colour, 1)
        cv2.putText(drawing, f'{d["class"]} {d["score"]:.2f}', (x1, max(8, y1 - 2)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.3, colour, 1, cv2.LINE_AA)
    return drawing


def draw_segmentation(image, seg_map, count, opacity=0.5):
    overlay = np.array(colours(count), np.uint8)[seg_map]
    return cv2.addWeighted(image, 1 - opacity, overlay, opacity, 0)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Run an end-to-end ONNX file on images '
                                     '(numpy, OpenCV and the runtime only)')
    parser.add_argument('model', help='MODEL.onnx from export_onnx.py --end2end, MODEL.json '
                        'beside it')
    parser.add_argument('images', nargs='+', help='image files')
    parser.add_argument('--out-dir', required=True, help='drawings and results go here')
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='detection: keep and draw boxes scoring at least this')
    parser.add_argument('--backend', choices=sorted(REQUIREMENTS), default='onnxruntime')
    parser.add_argument('--precision', choices=['f32', 'bf16'], default='f32',
                        help='bf16: OpenVINO on CPUs with BF16 instructions')
    parser.add_argument('--threads', type=int, help='intra-op threads (default: the '
                        'runtime\'s)')
    return parser.parse_args(argv)


def run(args):
    """Process every image; returns one summary line per image."""
    sidecar = read_sidecar(args.model)
    session = Session(args.model, args.backend, args.precision, args.threads)
    os.makedirs(args.out_dir, exist_ok=True)
    count = sidecar['num_classes']
    lines = []
    for path in args.images:
        image = read_image(path)
        stem = osp.join(args.out_dir, osp.splitext(osp.basename(path))[0])
        if sidecar['task'] == 'detection':
            detections, masks = detect(session, sidecar, image, args.score_thr)
            with open(stem + '.json', 'w') as f:
                json.dump(dict(image=path, height=image.shape[0], width=image.shape[1],
                               detections=detections), f, indent=1)
            cv2.imwrite(stem + '.jpg', draw_detections(image, detections, masks, count))
            lines.append(f'{path}: {len(detections)} objects with score >= {args.score_thr}'
                         f'{" with masks" if masks is not None else ""} -> {stem}.jpg, '
                         f'{stem}.json')
        else:
            seg_map = segment(session, sidecar, image)
            cv2.imwrite(stem + '.png', seg_map.astype(np.uint8 if count <= 256 else np.uint16))
            cv2.imwrite(stem + '.jpg', draw_segmentation(image, seg_map, count))
            present = len(np.unique(seg_map))
            lines.append(f'{path}: {present} classes -> {stem}.jpg, {stem}.png')
    return lines


def main(argv=None):
    args = parse_args(argv)
    try:
        for line in run(args):
            print(line)
    except RunnerError as error:
        sys.exit(f'error: {error}')


if __name__ == '__main__':
    main()
