"""The diffusion schedule and sampler maths, in one readable module (after improved-diffusion's
gaussian_diffusion.py). The TypeScript twin is core/src/diffusion/; fixtures written by
make_fixtures.py keep them equal. Noise is always an argument, never drawn here, so that a
sampler run can be replayed exactly in another language.

Masks live in [-1, 1] (x0 = 2*mask - 1). The model predicts x0, epsilon or v.
"""
import math

import numpy as np
import torch


def linear_betas(timesteps=1000, beta_start=1e-4, beta_end=0.02):
    return np.linspace(beta_start, beta_end, timesteps, dtype=np.float64)


def cosine_betas(timesteps=1000, s=0.008, max_beta=0.999):
    f = lambda t: math.cos((t / timesteps + s) / (1 + s) * math.pi / 2) ** 2
    return np.array([min(1 - f(i + 1) / f(i), max_beta) for i in range(timesteps)], dtype=np.float64)


class Schedule:
    def __init__(self, betas):
        self.betas = np.asarray(betas, dtype=np.float64)
        self.T = len(self.betas)
        self.alphas = 1.0 - self.betas
        self.alphas_cumprod = np.cumprod(self.alphas)
        self.alphas_cumprod_prev = np.append(1.0, self.alphas_cumprod[:-1])
        self.posterior_variance = self.betas * (1.0 - self.alphas_cumprod_prev) / (1.0 - self.alphas_cumprod)
        # log of the posterior variance, clipped because it is 0 at t = 0
        self.posterior_log_variance_clipped = np.log(np.append(self.posterior_variance[1], self.posterior_variance[1:]))
        self.posterior_mean_coef1 = self.betas * np.sqrt(self.alphas_cumprod_prev) / (1.0 - self.alphas_cumprod)
        self.posterior_mean_coef2 = (1.0 - self.alphas_cumprod_prev) * np.sqrt(self.alphas) / (1.0 - self.alphas_cumprod)

    @classmethod
    def from_manifest(cls, s):
        if s['kind'] == 'linear':
            return cls(linear_betas(s['timesteps'], s['betaStart'], s['betaEnd']))
        return cls(cosine_betas(s['timesteps']))

    def sample_t(self, n, generator, high_share=0.0, high_from=500):
        """Training timesteps: uniform over 0..T-1 (Ho et al. 2020, Algorithm 1), except that a share
        high_share of the batch is drawn from high_from..T-1, the noisy end where the mask must come
        from the image alone (at DDIM 4 the proposal is decided at t = 999 and 666). high_share 0
        draws exactly as before, so older runs resume and reproduce."""
        t = torch.randint(0, self.T, (n,), generator=generator)
        if high_share > 0:
            high = torch.rand(n, generator=generator) < high_share
            t = torch.where(high, torch.randint(high_from, self.T, (n,), generator=generator), t)
        return t

    def _at(self, arr, t, x):
        return torch.as_tensor(arr, dtype=torch.float64)[t].to(x.dtype).view(-1, *([1] * (x.dim() - 1)))

    def q_sample(self, x0, t, noise):
        return self._at(np.sqrt(self.alphas_cumprod), t, x0) * x0 + self._at(np.sqrt(1 - self.alphas_cumprod), t, x0) * noise

    def v_target(self, x0, t, noise):
        return self._at(np.sqrt(self.alphas_cumprod), t, x0) * noise - self._at(np.sqrt(1 - self.alphas_cumprod), t, x0) * x0

    def predict_x0(self, pred, x_t, t, kind):
        """Any parameterisation -> x0, clipped to the mask range [-1, 1]."""
        ab = self._at(self.alphas_cumprod, t, x_t)
        if kind == 'x0':
            x0 = pred
        elif kind == 'epsilon':
            x0 = (x_t - torch.sqrt(1 - ab) * pred) / torch.sqrt(ab)
        elif kind == 'v':
            x0 = torch.sqrt(ab) * x_t - torch.sqrt(1 - ab) * pred
        else:
            raise ValueError(kind)
        return x0.clamp(-1, 1)

    def eps_from_x0(self, x0, x_t, t):
        ab = self._at(self.alphas_cumprod, t, x_t)
        return (x_t - torch.sqrt(ab) * x0) / torch.sqrt(1 - ab)

    # --- samplers -------------------------------------------------------------------------
    def ddpm_step(self, pred, x_t, t, noise, kind):
        """Ancestral step t -> t-1 (the paper's sampler). `t` is an int; noise ignored at t = 0."""
        tt = torch.full((x_t.shape[0],), t, dtype=torch.long)
        x0 = self.predict_x0(pred, x_t, tt, kind)
        mean = self.posterior_mean_coef1[t] * x0 + self.posterior_mean_coef2[t] * x_t
        if t == 0:
            return mean
        return mean + math.exp(0.5 * self.posterior_log_variance_clipped[t]) * noise

    def ddim_timesteps(self, steps):
        """Evenly spaced, descending, always starting at T-1 and ending at 0 (as the TS side)."""
        if steps >= self.T:
            return list(range(self.T - 1, -1, -1))
        ts = np.round(np.linspace(self.T - 1, 0, steps)).astype(int)
        return [int(v) for v in ts]

    def ddim_step(self, pred, x_t, t, t_prev, noise, kind, eta):
        """DDIM step t -> t_prev (t_prev = -1 means 'to x0'). eta=0 deterministic, eta=1 ~ DDPM."""
        tt = torch.full((x_t.shape[0],), t, dtype=torch.long)
        x0 = self.predict_x0(pred, x_t, tt, kind)
        if t_prev < 0:
            return x0
        eps = self.eps_from_x0(x0, x_t, tt)
        ab, ab_prev = self.alphas_cumprod[t], self.alphas_cumprod[t_prev]
        sigma = eta * math.sqrt((1 - ab_prev) / (1 - ab)) * math.sqrt(1 - ab / ab_prev)
        dir_coef = math.sqrt(max(1 - ab_prev - sigma**2, 0.0))
        return math.sqrt(ab_prev) * x0 + dir_coef * eps + sigma * noise


def sample_ddim(model, schedule, image, x_T, steps, eta, kind, noises=None, record=None):
    """Runs DDIM from x_T. noises: list of tensors (one per step) or None (zeros; eta must be 0)."""
    ts = schedule.ddim_timesteps(steps)
    x = x_T
    for i, t in enumerate(ts):
        t_prev = ts[i + 1] if i + 1 < len(ts) else -1
        tt = torch.full((x.shape[0],), float(t))
        pred = model(image, x, tt)
        noise = noises[i] if noises is not None else torch.zeros_like(x)
        x = schedule.ddim_step(pred, x, t, t_prev, noise, kind, eta)
        if record is not None:
            record.append((t, pred.detach().clone(), noise.clone(), x.detach().clone()))
    return x


def sample_ddpm(model, schedule, image, x_T, kind, generator=None):
    x = x_T
    for t in range(schedule.T - 1, -1, -1):
        pred = model(image, x, torch.full((x.shape[0],), float(t)))
        noise = torch.randn(x.shape, generator=generator) if t > 0 else torch.zeros_like(x)
        x = schedule.ddpm_step(pred, x, t, noise, kind)
    return x
