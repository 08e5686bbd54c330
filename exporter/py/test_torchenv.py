"""torchenv is the scripts' one torch set-up."""

import ast
import glob
import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


class TorchEnvTest(unittest.TestCase):
    def test_sets_wait_policy_before_torch(self):
        env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
        code = "import torchenv, os; print(os.environ['OMP_WAIT_POLICY'])"
        out = subprocess.run([sys.executable, "-c", code], cwd=HERE, env=env,
                             capture_output=True, text=True, check=True)
        self.assertEqual(out.stdout.strip(), "PASSIVE")

    def test_use_threads(self):
        import torchenv
        with self.assertRaises(ValueError):
            torchenv.use_threads(0)
        before = torchenv.torch.get_num_threads()
        try:
            torchenv.use_threads(1)
            self.assertEqual(torchenv.torch.get_num_threads(), 1)
        finally:
            torchenv.torch.set_num_threads(before)

    def test_scripts_load_torch_through_torchenv(self):
        """The first torch import of every script is torchenv's, and no script
        patches sys.path."""
        for path in sorted(glob.glob(os.path.join(HERE, "*.py"))):
            name = os.path.basename(path)
            if name in ("torchenv.py", "test_torchenv.py"):
                continue
            src = open(path).read()
            with self.subTest(script=name):
                self.assertNotIn("sys.path.insert", src)
                nodes = [n for n in ast.walk(ast.parse(src)) if isinstance(n, (ast.Import, ast.ImportFrom))]
                for node in sorted(nodes, key=lambda n: n.lineno):
                    mods = []
                    if isinstance(node, ast.Import):
                        mods = [a.name for a in node.names]
                    elif isinstance(node, ast.ImportFrom) and node.module:
                        mods = [node.module]
                    if "torchenv" in mods:
                        break
                    self.assertFalse(any(m == "torch" or m.startswith("torch.") for m in mods),
                                     f"{name} line {getattr(node, 'lineno', '?')} imports torch before torchenv")


if __name__ == "__main__":
    unittest.main()
