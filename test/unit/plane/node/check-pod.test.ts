
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exitHint, nodeCheckHint, nodeCheckPod } from '../../../../plane/node/check-pod.js';

describe('the start-up check pod', () => {
  it('names the oom setting when runc fails the way it does without it', () => {
    const hint = nodeCheckHint(['Failed to create pod sandbox: rpc error: code = Unknown desc = failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: can\'t get final child\'s PID from pipe: EOF: unknown']);
    assert.match(hint, /restrict_oom_score_adj = true/);
    assert.match(hint, /oom-score-adj=0/);
  });

  it('points at the bridge, the cgroups, the image, or the logs', () => {
    assert.match(nodeCheckHint(['Failed to create pod sandbox: plugin type="bridge" failed (add): failed to allocate for range 0']), /CNI bridge/);
    assert.match(nodeCheckHint(['failed to write 1 to cgroup.procs: invalid argument']), /cgroup v1/);
    assert.match(nodeCheckHint(['Container image "baton.local/pause:v1" is not present with pull policy of Never', 'ErrImageNeverPull']), /pause image/);
    assert.match(nodeCheckHint([]), /kubelet\.log and containerd\.log/);
  });

  it('says what to do when a node process exits at start-up because its port is taken or it lacks privileges', () => {
    assert.match(exitHint('2026/11/30 08:00:00 listen tcp 198.18.128.1:5000: bind: address already in use') ?? '', /198\.18\.128\.1:5000 is taken.*ss -ltnp 'sport = :5000'/);
    assert.match(exitHint('mkdir /sys/fs/cgroup/cpu/x: permission denied') ?? '', /needs root with the capabilities/);
    assert.equal(exitHint('panic: something else'), undefined);
  });

  it('runs only on the real node, with the image made here, never pulled', () => {
    const pod = nodeCheckPod() as { spec: { nodeSelector: Record<string, string>; tolerations: unknown[]; automountServiceAccountToken: boolean; containers: Array<{ image: string; imagePullPolicy: string }> } };
    assert.deepEqual(pod.spec.nodeSelector, { 'baton.dev/real-node': 'true' });
    assert.equal(pod.spec.automountServiceAccountToken, false);
    assert.equal(pod.spec.containers[0]!.imagePullPolicy, 'Never');
    assert.equal(pod.spec.containers[0]!.image, 'baton.local/pause:v1');
  });
});
