"""The product description's own Python snippets, run unchanged against a compiled model.

`basic-models.md` promises that a compiled model is an ordinary PyTorch module: its
training loop, evaluation and single-image inference snippets use `from <model> import
Model`, `Model(num_classes=10)` and `model.load_state_dict(torch.load('checkpoint.pth'))`.
This test compiles `examples/basic/simple_mlp.triton` with the real compiler, trains it for
one epoch on tiny generated MNIST files so that `simple_mlp_best.pth` exists, and then runs a
separate script made of those snippets (only the data loaders and the checkpoint's name are
filled in), so the plain-state-dict contract of the best-weights file is checked the way a
user would meet it.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

from fixtures.programs import child_environment, run_model
from fixtures.tiny_mnist import write_tiny_mnist

from triton_dsl.compiler import compile_file

USER_SCRIPT = textwrap.dedent("""
    import torch
    from simple_mlp import Model
    from triton_dsl.data import get_dataset

    def as_float(split):
        # What a user's transform (ToTensor + Normalize) would give: float [1, 28, 28].
        spec = get_dataset("mnist", data_path=DATA, split=split, download=False)
        images = torch.stack([image for image, _ in spec.dataset]).float() / 255
        labels = torch.tensor([int(label) for _, label in spec.dataset])
        return torch.utils.data.TensorDataset((images - 0.1307) / 0.3081, labels)

    train_set = as_float("train")
    test_set = as_float("test")
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=16, shuffle=True)
    test_loader = torch.utils.data.DataLoader(test_set, batch_size=16)
    epochs = 1

    # Initialize model
    model = Model(num_classes=10)

    # Optimizer and loss
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
    criterion = torch.nn.CrossEntropyLoss()

    # Training loop
    for epoch in range(epochs):
        for batch, targets in train_loader:
            optimizer.zero_grad()
            outputs = model(batch)
            loss = criterion(outputs, targets)
            loss.backward()  # STE handles ternary gradients
            optimizer.step()

    # Load checkpoint
    model.load_state_dict(torch.load('simple_mlp_best.pth'))
    model.eval()

    # Evaluate
    correct = 0
    total = 0
    with torch.no_grad():
        for batch, targets in test_loader:
            outputs = model(batch)
            _, predicted = outputs.max(1)
            correct += (predicted == targets).sum().item()
            total += targets.size(0)

    accuracy = correct / total
    print(f'Accuracy: {accuracy:.2%}')

    # Single image inference
    image = test_set[0][0]
    model.eval()
    with torch.no_grad():
        output = model(image.unsqueeze(0))
        prediction = output.argmax(dim=1)
        confidence = torch.softmax(output, dim=1).max()
    print(f'prediction {prediction.item()} confidence {confidence.item():.3f}')
""")


def test_seed_snippets_run_unchanged_against_the_compiled_mlp(tmp_path, repo_root,
                                                              triton_compiler, monkeypatch):
    monkeypatch.setenv("TRITON_COMPILER", str(triton_compiler))
    data = write_tiny_mnist(tmp_path / "mnist")
    work = tmp_path / "work"
    work.mkdir()
    script = work / "simple_mlp.py"
    compile_file(repo_root / "examples/basic/simple_mlp.triton", script)

    trained = run_model(script, "--train", "--dataset", "mnist", "--data-path", str(data),
                        "--epochs", "1", "--batch-size", "16", "--no-download",
                        "--no-progress")
    assert trained.returncode == 0, trained.stderr
    assert (work / "simple_mlp_best.pth").is_file()

    user = work / "user_script.py"
    user.write_text(f"DATA = {str(data)!r}\n" + USER_SCRIPT)
    result = subprocess.run([sys.executable, str(user)], cwd=work, env=child_environment(),
                            capture_output=True, text=True, timeout=240, check=False)
    assert result.returncode == 0, result.stderr
    accuracy = float(result.stdout.split("Accuracy: ")[1].split("%")[0])
    assert 0.0 <= accuracy <= 100.0
    assert "prediction " in result.stdout
