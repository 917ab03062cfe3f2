#!/usr/bin/python3
"""vol_peers.py - zc's volume rendering and marching cubes against VTK and
scikit-image, in the same run, on the same volume and view.

  marching cubes   zc mesh (extract_s) vs vtkMarchingCubes, vtkFlyingEdges3D
                   and skimage.measure.marching_cubes: time, triangle counts
  DVR              zc render --mode dvr vs vtkFixedPointVolumeRayCastMapper
                   (VTK's CPU ray caster), same transfer function, camera,
                   sample distance (1 mm), shading and thread count: the
                   first frame after loading (each side's per-volume work:
                   VTK's gradient table, zc's macrocells) and the steady
                   frame of a turning view

Each figure is the median of --repeat rounds, each round running zc and every
peer one after the other so that all see the same load; ratios are zc / peer.
VTK's ray caster needs an X display: without DISPLAY the script runs itself
again under xvfb-run.  Debian's Python packages are visible to
/usr/bin/python3 only, so run it with that.

  /usr/bin/python3 bench/vol_peers.py [--zc build/zc] [--volume V.nii[.gz]]
                   [--repeat 5] [--threads 2] [--out DIR] [--json] [--quick]

--quick runs the DVR comparison alone, at 512x512 (about 10 s).
"""
import argparse
import gzip
import importlib.util
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

CH2 = "/usr/share/mricron/templates/ch2.nii.gz"
# zc's "mri" preset (src/vol/tf.c): position in the value range, r, g, b, a.
MRI = [(0.00, 0, 0, 0, 0), (0.14, 0.6, 0.4, 0.3, 0), (0.20, 0.85, 0.62, 0.5, 0.35),
       (0.35, 0.95, 0.75, 0.62, 0.6), (0.55, 1.0, 0.9, 0.82, 0.8), (1.00, 1, 1, 1, 0.95)]
AZIMUTH, ELEVATION = 30.0, 15.0


def zc_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def vtk_reader(path):
    import vtk
    r = vtk.vtkNIFTIImageReader()
    r.SetFileName(path)
    r.Update()
    return r


def mc_peers(args, nii, out):
    import vtk
    from vtk.util import numpy_support
    from skimage import measure
    reader = vtk_reader(nii)
    img = reader.GetOutput()
    nx, ny, nz = img.GetDimensions()
    vox = numpy_support.vtk_to_numpy(img.GetPointData().GetScalars()).reshape(nz, ny, nx)
    rows = []
    for iso in (50.5, 100.5):
        ply = os.path.join(out, "mesh.ply")

        def run_zc():
            j = zc_json([args.zc, "mesh", nii, "--iso", str(iso), "-o", ply, "--json"])
            return j["extract_s"], j

        def run_vtk(cls):
            f = cls()
            f.SetInputConnection(reader.GetOutputPort())
            f.SetValue(0, iso)
            f.ComputeNormalsOn()
            t = time.perf_counter()
            f.Update()
            return time.perf_counter() - t, f.GetOutput().GetNumberOfCells()

        def run_sk():
            t = time.perf_counter()
            _, faces, _, _ = measure.marching_cubes(vox, iso)
            return time.perf_counter() - t, len(faces)

        # Rounds alternate the four, so that all see the same load.
        runs = {"zc": [], "mc": [], "fe": [], "sk": []}
        for _ in range(args.repeat):
            runs["zc"].append(run_zc())
            runs["mc"].append(run_vtk(vtk.vtkMarchingCubes))
            runs["fe"].append(run_vtk(vtk.vtkFlyingEdges3D))
            runs["sk"].append(run_sk())
        med = {k: statistics.median(t for t, _ in v) for k, v in runs.items()}
        zj = runs["zc"][-1][1]
        rows.append({"iso": iso, "zc_s": med["zc"], "zc_triangles": zj["triangles"],
                     "zc_vertices": zj["vertices"], "vtk_mc_s": med["mc"],
                     "vtk_mc_triangles": runs["mc"][-1][1], "vtk_fe_s": med["fe"],
                     "vtk_fe_triangles": runs["fe"][-1][1], "skimage_s": med["sk"],
                     "skimage_triangles": runs["sk"][-1][1]})
    return rows


def vtk_dvr(nii, size, threads, frames, png):
    """VTK's CPU ray caster with zc's view, freshly set up: returns (first
    frame s, median of the next frames s)."""
    import vtk
    reader = vtk_reader(nii)
    lo, hi = reader.GetOutput().GetScalarRange()
    mapper = vtk.vtkFixedPointVolumeRayCastMapper()
    mapper.SetInputConnection(reader.GetOutputPort())
    mapper.SetNumberOfThreads(threads)
    mapper.SetAutoAdjustSampleDistances(0)
    mapper.SetSampleDistance(1.0)
    mapper.SetImageSampleDistance(1.0)
    color, opacity = vtk.vtkColorTransferFunction(), vtk.vtkPiecewiseFunction()
    for x, r, g, b, a in MRI:
        color.AddRGBPoint(lo + x * (hi - lo), r, g, b)
        opacity.AddPoint(lo + x * (hi - lo), a)
    prop = vtk.vtkVolumeProperty()
    prop.SetColor(color)
    prop.SetScalarOpacity(opacity)
    prop.SetInterpolationTypeToLinear()
    prop.ShadeOn()
    prop.SetAmbient(0.25)
    prop.SetDiffuse(0.75)
    prop.SetSpecular(0.25)
    prop.SetSpecularPower(16)
    volume = vtk.vtkVolume()
    volume.SetMapper(mapper)
    volume.SetProperty(prop)
    ren = vtk.vtkRenderer()
    ren.AddVolume(volume)
    win = vtk.vtkRenderWindow()
    win.SetOffScreenRendering(1)
    win.AddRenderer(ren)
    win.SetSize(size, size)
    # zc's orbit camera (src/vol/view.c): orthographic, the bounding sphere
    # filling the view.
    b = reader.GetOutput().GetBounds()
    centre = [(b[0] + b[1]) / 2, (b[2] + b[3]) / 2, (b[4] + b[5]) / 2]
    radius = 0.5 * math.sqrt((b[1] - b[0]) ** 2 + (b[3] - b[2]) ** 2 + (b[5] - b[4]) ** 2)
    az, el = math.radians(AZIMUTH), math.radians(ELEVATION)
    fwd = [-math.cos(el) * math.sin(az), -math.cos(el) * math.cos(az), -math.sin(el)]
    cam = ren.GetActiveCamera()
    cam.SetFocalPoint(*centre)
    cam.SetPosition(*[centre[i] - fwd[i] * 2 * radius for i in range(3)])
    cam.SetViewUp(0, 0, 1)
    cam.OrthogonalizeViewUp()
    cam.ParallelProjectionOn()
    cam.SetParallelScale(radius)
    ren.ResetCameraClippingRange()
    t = time.perf_counter()
    win.Render()
    first = time.perf_counter() - t
    times = []
    for i in range(frames):
        cam.Azimuth(1e-3 if i % 2 == 0 else -1e-3)  # a new view: the rays are cast again
        t = time.perf_counter()
        win.Render()
        times.append(time.perf_counter() - t)
    if png:
        grab = vtk.vtkWindowToImageFilter()
        grab.SetInput(win)
        grab.Update()
        w = vtk.vtkPNGWriter()
        w.SetFileName(png)
        w.SetInputConnection(grab.GetOutputPort())
        w.Write()
    return first, statistics.median(times)


def spread(xs):
    return {"min": min(xs), "median": statistics.median(xs), "max": max(xs)}


def dvr_peers(args, nii, out):
    """Rounds that alternate zc and VTK, so that both see the same load:
    each round a fresh zc process (load, first frame, 4 more frames) and a
    freshly set up VTK pipeline (first frame, 4 more)."""
    rows = []
    for size in (512,) if args.quick else (512, 1024):
        png = os.path.join(out, f"vol_dvr_{size}.png")
        zc_first, zc_frame, vtk_first, vtk_frame = [], [], [], []
        for r in range(args.repeat):
            j = zc_json([args.zc, "render", nii, "-o", png, "--size", f"{size}x{size}",
                         "--threads", str(args.threads), "--frames", "5", "--json"])
            zc_first.append(j["render_s"])
            zc_frame.append(j["frame_s"])
            first, frame = vtk_dvr(nii, size, args.threads, 4,
                                   os.path.join(out, f"vtk_dvr_{size}.png")
                                   if r == args.repeat - 1 else None)
            vtk_first.append(first)
            vtk_frame.append(frame)
        rows.append({"size": size, "zc_render_s": statistics.median(zc_first),
                     "zc_frame_s": statistics.median(zc_frame),
                     "zc_extra_bytes": j["extra_bytes"], "volume_bytes": j["volume_bytes"],
                     "vtk_first_s": statistics.median(vtk_first),
                     "vtk_frame_s": statistics.median(vtk_frame),
                     "zc_first": spread(zc_first), "vtk_first": spread(vtk_first),
                     "first_ratio": spread([z / v for z, v in zip(zc_first, vtk_first)]),
                     "zc_frame": spread(zc_frame), "vtk_frame": spread(vtk_frame),
                     "frame_ratio": spread([z / v for z, v in zip(zc_frame, vtk_frame)])})
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--zc", default="build/zc")
    ap.add_argument("--volume", default=CH2)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=None, help="keep pictures and meshes here")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--quick", action="store_true", help="DVR at 512x512 only")
    args = ap.parse_args()
    if not os.environ.get("DISPLAY") and not os.environ.get("ZC_BENCH_XVFB"):
        if not shutil.which("xvfb-run"):
            sys.exit("vol_peers: VTK's ray caster needs an X display: install xvfb")
        os.environ["ZC_BENCH_XVFB"] = "1"
        os.execvp("xvfb-run", ["xvfb-run", "-a", sys.executable] + sys.argv)
    for mod in ("vtk",) if args.quick else ("vtk", "skimage"):
        if importlib.util.find_spec(mod) is None:
            sys.exit(f"vol_peers: {mod} is missing: run it with /usr/bin/python3 after"
                     " scripts/deps bench (python3-vtk9, python3-skimage)")
    if not os.access(args.zc, os.X_OK):
        sys.exit(f"vol_peers: {args.zc} is not there: build it first (make) or pass --zc")
    tmp = tempfile.mkdtemp(prefix="zc-vol-bench-")
    out = args.out or tmp
    os.makedirs(out, exist_ok=True)
    try:
        nii = args.volume
        if nii.endswith(".gz"):  # both sides read the same uncompressed file
            nii = os.path.join(tmp, "volume.nii")
            with gzip.open(args.volume, "rb") as src, open(nii, "wb") as dst:
                shutil.copyfileobj(src, dst)
        mc = [] if args.quick else mc_peers(args, nii, tmp)
        dvr = dvr_peers(args, nii, out)
    finally:
        shutil.rmtree(tmp)
    print_mc(args, mc)
    print_dvr(args, dvr)
    if args.json:
        print(json.dumps({"marching_cubes": mc, "dvr": dvr}))


def print_mc(args, mc):
    if not mc:
        return
    print(f"marching cubes on {os.path.basename(args.volume)} (median of {args.repeat})")
    print(f"{'iso':>6} {'zc s':>7} {'vtkMC s':>8} {'vtkFE s':>8} {'skimage s':>9}"
          f" {'zc/MC':>6} {'zc tris':>9} {'MC tris':>9} {'diff %':>7}")
    for r in mc:
        diff = 100.0 * (r["zc_triangles"] - r["vtk_mc_triangles"]) / r["vtk_mc_triangles"]
        print(f"{r['iso']:>6} {r['zc_s']:7.3f} {r['vtk_mc_s']:8.3f} {r['vtk_fe_s']:8.3f}"
              f" {r['skimage_s']:9.3f} {r['zc_s'] / r['vtk_mc_s']:6.2f}"
              f" {r['zc_triangles']:9d} {r['vtk_mc_triangles']:9d} {diff:7.3f}")


def print_dvr(args, dvr):
    print(f"\nDVR, {args.threads} threads (VTK: vtkFixedPointVolumeRayCastMapper);"
          f" first frame after load, and steady frames (median of {args.repeat})")
    print(f"{'size':>5} {'zc 1st':>7} {'vtk 1st':>8} {'ratio':>6} {'zc frame':>9}"
          f" {'vtk frame':>9} {'ratio':>6} {'extra/volume %':>14}")
    for r in dvr:
        print(f"{r['size']:>5} {r['zc_render_s']:7.3f} {r['vtk_first_s']:8.3f}"
              f" {r['zc_render_s'] / r['vtk_first_s']:6.2f} {r['zc_frame_s']:9.3f}"
              f" {r['vtk_frame_s']:9.3f} {r['zc_frame_s'] / r['vtk_frame_s']:6.2f}"
              f" {100.0 * r['zc_extra_bytes'] / r['volume_bytes']:14.2f}")
    print(f"\n{'size':>5} {'figure':<12} {'min':>7} {'median':>7} {'max':>7}")
    for r in dvr:
        for key in ("zc_first", "vtk_first", "first_ratio", "zc_frame", "vtk_frame",
                    "frame_ratio"):
            s = r[key]
            print(f"{r['size']:>5} {key:<12} {s['min']:7.3f} {s['median']:7.3f}"
                  f" {s['max']:7.3f}")


if __name__ == "__main__":
    main()
