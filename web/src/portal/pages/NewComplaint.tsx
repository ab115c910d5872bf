import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../../api';
import { SelectField, TextArea, TextField } from '../../components/Field';
import { Outcome } from '../../components/Notice';
import { useAction } from '../../hooks';
import { navigate } from '../../router';
import type { ComplaintDetail } from '../../types';
import { complaintPath } from '../session';

const PRIORITIES = [
  { value: 'low', label: 'Low' },
  { value: 'medium', label: 'Medium' },
  { value: 'high', label: 'High' },
  { value: 'critical', label: 'Critical' },
];

type Errors = Partial<Record<'company' | 'category' | 'title' | 'description' | 'amount' | 'currency', string>>;

/** Files a complaint against a company by its code (shown on the company's receipts, site or Escalatr page). */
export function NewComplaintPage() {
  const [company, setCompany] = useState('');
  const [category, setCategory] = useState('');
  const [title, setTitle] = useState('');
  const [description, setDescription] = useState('');
  const [priority, setPriority] = useState('medium');
  const [amount, setAmount] = useState('');
  const [currency, setCurrency] = useState('');
  const [errors, setErrors] = useState<Errors>({});
  const action = useAction();
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = 'File a complaint · Escalatr';
    heading.current?.focus();
  }, []);

  const submit = async (e: Event) => {
    e.preventDefault();
    const code = company.trim().toUpperCase();
    const cur = currency.trim().toUpperCase();
    const n = amount.trim() === '' ? null : Number(amount);
    const next: Errors = {};
    if (!/^[A-Z]{2,8}$/.test(code)) next.company = 'Enter the company code: 2 to 8 letters, such as VOLT.';
    if (!category.trim()) next.category = 'Say what the complaint is about, such as Billing or Delivery.';
    if (!title.trim()) next.title = 'Give the complaint a short title.';
    if (!description.trim()) next.description = 'Describe what happened and what you want.';
    if (n !== null && (!Number.isFinite(n) || n < 0)) next.amount = 'Enter an amount of 0 or more, or leave it empty.';
    if (cur && !/^[A-Z]{3}$/.test(cur)) next.currency = 'Use a three-letter currency code such as INR or EUR.';
    if (n !== null && !cur && !next.amount) next.currency = 'Give the currency of the amount.';
    setErrors(next);
    if (Object.keys(next).length) return;
    const filed = await action.run(() =>
      api.post<ComplaintDetail>('/api/consumer/v1/complaints', {
        company_code: code,
        complaint_category: category.trim(),
        title: title.trim(),
        description: description.trim(),
        priority,
        ...(n !== null ? { amount_involved: n, currency: cur } : {}),
      }),
    );
    if (filed) navigate(complaintPath(filed.escalatr_id));
  };

  return (
    <section class="page portal-narrow" aria-labelledby="new-title">
      <h1 id="new-title" ref={heading} tabIndex={-1}>
        File a complaint
      </h1>
      <form onSubmit={submit} noValidate class="card stack">
        <TextField
          label="Company code"
          value={company}
          onValue={setCompany}
          error={errors.company}
          autoCapitalize="characters"
          autoComplete="off"
          maxLength={8}
          hint="The company's short code, such as VOLT."
          required
        />
        <TextField
          label="Category"
          value={category}
          onValue={setCategory}
          error={errors.category}
          maxLength={100}
          hint="Such as Billing, Delivery or Consumer Durables."
          required
        />
        <TextField label="Title" value={title} onValue={setTitle} error={errors.title} maxLength={200} required />
        <TextArea
          label="What happened"
          value={description}
          onValue={setDescription}
          error={errors.description}
          rows={6}
          maxLength={10000}
        />
        <SelectField label="Priority" value={priority} onValue={setPriority} options={PRIORITIES} />
        <div class="grid-2">
          <TextField
            label="Amount involved (optional)"
            type="number"
            min="0"
            step="0.01"
            inputMode="decimal"
            value={amount}
            onValue={setAmount}
            error={errors.amount}
          />
          <TextField
            label="Currency"
            value={currency}
            onValue={setCurrency}
            error={errors.currency}
            maxLength={3}
            autoCapitalize="characters"
            hint="Three letters, such as INR."
          />
        </div>
        <Outcome error={action.error} />
        <div>
          <button type="submit" class="btn btn-primary" disabled={action.busy}>
            {action.busy ? 'Filing…' : 'File complaint'}
          </button>
        </div>
      </form>
    </section>
  );
}
