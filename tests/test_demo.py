"""The demo runs the tutorial end to end and writes its three figures."""

import matplotlib.image as mpimg

from sklstm import demo


def test_demo_prints_both_alignments_and_writes_three_pngs(tmp_path, capsys):
    scores = demo.main(["--output-dir", str(tmp_path), "--max-iter", "12"])
    out = capsys.readouterr().out
    assert out.count("test R^2 = ") == 2
    assert "epoch  10  loss" in out
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "actual_vs_predicted.png",
        "original_data.png",
        "training_loss.png",
    ]
    for name in names:
        image = mpimg.imread(tmp_path / name)
        assert image.shape[0] > 100 and image.std() > 0  # a real, non-blank picture
    # Even after a few epochs the window holding the target's row wins clearly.
    assert scores[0]["r2"] > 0.8
    assert scores[1]["r2"] < 0.2
